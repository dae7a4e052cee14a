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
const ForgotPassword = lazy(() => import('./pages/ForgotPassword'));
const ResetPassword = lazy(() => import('./pages/ResetPassword'));
const AccountSecurity = lazy(() => import('./pages/AccountSecurity'));
const TicketDetail = lazy(() => import('./pages/TicketDetail'));
const OpsOrders = lazy(() => import('./ops/OpsOrders'));
const OpsOrder = lazy(() => import('./ops/OpsOrder'));
const OpsInstances = lazy(() => import('./ops/OpsInstances'));
const OpsCapacity = lazy(() => import('./ops/OpsCapacity'));
const OpsTickets = lazy(() => import('./ops/OpsTickets'));
const OpsTicket = lazy(() => import('./ops/OpsTicket'));
const OpsMail = lazy(() => import('./ops/OpsMail'));

const SECURITY_PAGE = '/account/security';

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
  // The organisation requires a second factor this member has not set up: nothing else until then.
  if (session.mustEnrolTwoFactor && location.pathname !== SECURITY_PAGE) {
    return <Navigate to={SECURITY_PAGE} replace />;
  }
  // Operators work in the console; customers have no console (the server answers /ops with 404 too).
  const inConsole = location.pathname === '/ops' || location.pathname.startsWith('/ops/');
  const isOperator = session.organization === null;
  if (isOperator && !inConsole && location.pathname !== SECURITY_PAGE) return <Navigate to="/ops" replace />;
  if (!isOperator && inConsole) return <Navigate to="/" replace />;
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
          <Route path="/forgot-password" element={<ForgotPassword />} />
          <Route path="/reset-password" element={<ResetPassword />} />
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
            <Route path="/tickets/:id" element={<TicketDetail />} />
            <Route path={SECURITY_PAGE} element={<AccountSecurity />} />
            <Route path="/ops" element={<OpsOrders />} />
            <Route path="/ops/orders/:id" element={<OpsOrder />} />
            <Route path="/ops/instances" element={<OpsInstances />} />
            <Route path="/ops/capacity" element={<OpsCapacity />} />
            <Route path="/ops/tickets" element={<OpsTickets />} />
            <Route path="/ops/tickets/:id" element={<OpsTicket />} />
            <Route path="/ops/mail" element={<OpsMail />} />
            <Route path="/members" element={<Members />} />
            <Route path="/audit" element={<Audit />} />
            <Route path="*" element={<Navigate to="/" replace />} />
          </Route>
        </Routes>
      </Suspense>
    </BrowserRouter>
  );
}
