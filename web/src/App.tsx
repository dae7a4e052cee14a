import { lazy, Suspense, type ReactNode } from 'react';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router';
import { useSession } from './api/session';
import { AppLayout } from './components/AppLayout';
import { Loading, ProblemAlert } from './components/ui';

// Every page is its own chunk: the wizard route loads only what it needs.
const Dashboard = lazy(() => import('./pages/Dashboard'));
const Signup = lazy(() => import('./pages/Signup'));
const Login = lazy(() => import('./pages/Login'));
const AcceptInvitation = lazy(() => import('./pages/AcceptInvitation'));
const OrderWizard = lazy(() => import('./wizard/OrderWizard'));
const Orders = lazy(() => import('./pages/Orders'));
const OrderStatusPage = lazy(() => import('./pages/OrderStatus'));
const InstancePage = lazy(() => import('./pages/Instance'));
const BillingProfiles = lazy(() => import('./pages/BillingProfiles'));
const Tickets = lazy(() => import('./pages/Tickets'));
const Members = lazy(() => import('./pages/Members'));
const Audit = lazy(() => import('./pages/Audit'));

/** Pages behind sign-in: without a session, go to /login and come back afterwards. */
function RequireSession({ children }: { children: ReactNode }) {
  const { data: session, isPending, error } = useSession();
  const location = useLocation();
  if (isPending) return <Loading />;
  if (error) return <ProblemAlert error={error} />;
  if (!session) {
    const next = location.pathname + location.search;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return children;
}

export function App() {
  return (
    <BrowserRouter>
      <Suspense fallback={<Loading />}>
        <Routes>
          <Route path="/signup" element={<Signup />} />
          <Route path="/login" element={<Login />} />
          <Route path="/invitations/:token" element={<AcceptInvitation />} />
          <Route
            element={
              <RequireSession>
                <AppLayout />
              </RequireSession>
            }
          >
            <Route index element={<Dashboard />} />
            <Route path="/orders/new" element={<OrderWizard />} />
            <Route path="/orders" element={<Orders />} />
            <Route path="/orders/:id" element={<OrderStatusPage />} />
            <Route path="/instances/:id" element={<InstancePage />} />
            <Route path="/billing-profiles" element={<BillingProfiles />} />
            <Route path="/tickets" element={<Tickets />} />
            <Route path="/members" element={<Members />} />
            <Route path="/audit" element={<Audit />} />
            <Route path="*" element={<Navigate to="/" replace />} />
          </Route>
        </Routes>
      </Suspense>
    </BrowserRouter>
  );
}
