import { useQuery } from '@tanstack/react-query';
import { api } from './client';
import type {
  OpsInstance,
  OpsOrderDetail,
  OpsOrderSummary,
  OpsTicket,
  OutboxMail,
  RegionCapacity,
  SessionSummary,
  TicketDetail,
} from './provider-types';
import type { List } from './types';

/** Queries of the provider's side: account security, ticket conversations, the operator console. */
export const providerKeys = {
  sessions: ['auth-sessions'] as const,
  ticket: (id: string) => ['ticket', id] as const,
  opsOrders: (filter: string) => ['ops', 'orders', filter] as const,
  opsOrder: (id: string) => ['ops', 'order', id] as const,
  opsInstances: ['ops', 'instances'] as const,
  opsCapacity: ['ops', 'capacity'] as const,
  opsTickets: (status: string) => ['ops', 'tickets', status] as const,
  opsTicket: (id: string) => ['ops', 'ticket', id] as const,
  opsMail: ['ops', 'mail'] as const,
  opsOrganizations: ['ops', 'organizations'] as const,
};

export function useOpsOrganizations() {
  return useQuery({
    queryKey: providerKeys.opsOrganizations,
    queryFn: () =>
      api<{ items: { id: string; name: string; customerNumber: string }[] }>(
        'GET',
        '/api/v1/ops/organizations',
      ),
    staleTime: 60_000,
  });
}

export function useSessions() {
  return useQuery({
    queryKey: providerKeys.sessions,
    queryFn: () => api<{ items: SessionSummary[] }>('GET', '/api/v1/auth/sessions'),
  });
}

export function useTicket(id: string) {
  return useQuery({
    queryKey: providerKeys.ticket(id),
    queryFn: () => api<TicketDetail>('GET', `/api/v1/tickets/${encodeURIComponent(id)}`),
    // The support team may answer while the page is open.
    refetchInterval: 10_000,
  });
}

export function useOpsOrders(query: string) {
  return useQuery({
    queryKey: providerKeys.opsOrders(query),
    queryFn: () => api<List<OpsOrderSummary>>('GET', `/api/v1/ops/orders?limit=100&${query}`),
  });
}

export function useOpsOrder(id: string) {
  return useQuery({
    queryKey: providerKeys.opsOrder(id),
    queryFn: () => api<OpsOrderDetail>('GET', `/api/v1/ops/orders/${encodeURIComponent(id)}`),
    refetchInterval: (q) =>
      q.state.data && ['new', 'processing'].includes(q.state.data.status) ? 3000 : false,
  });
}

export function useOpsInstances() {
  return useQuery({
    queryKey: providerKeys.opsInstances,
    queryFn: () => api<List<OpsInstance>>('GET', '/api/v1/ops/instances?limit=100'),
  });
}

export function useOpsCapacity() {
  return useQuery({
    queryKey: providerKeys.opsCapacity,
    queryFn: () => api<{ regions: RegionCapacity[] }>('GET', '/api/v1/ops/capacity'),
  });
}

export function useOpsTickets(status: string) {
  return useQuery({
    queryKey: providerKeys.opsTickets(status),
    queryFn: () =>
      api<List<OpsTicket>>('GET', `/api/v1/ops/tickets?limit=100${status ? `&status=${status}` : ''}`),
  });
}

export function useOpsTicket(id: string) {
  return useQuery({
    queryKey: providerKeys.opsTicket(id),
    queryFn: () =>
      api<TicketDetail & { organizationId: string }>('GET', `/api/v1/ops/tickets/${encodeURIComponent(id)}`),
    refetchInterval: 10_000,
  });
}

export function useOpsMail() {
  return useQuery({
    queryKey: providerKeys.opsMail,
    queryFn: () =>
      api<{ items: OutboxMail[]; counts: Record<OutboxMail['state'], number> }>(
        'GET',
        '/api/v1/ops/mail?limit=50',
      ),
  });
}
