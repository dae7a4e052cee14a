import { useQuery } from '@tanstack/react-query';
import { api } from './client';
import type {
  BillingProfile,
  Instance,
  List,
  Member,
  Order,
  OrderStatus,
  PublicCatalog,
  Ticket,
} from './types';

export const keys = {
  catalog: ['catalog'] as const,
  orders: (status?: OrderStatus) => ['orders', status ?? 'all'] as const,
  order: (id: string) => ['order', id] as const,
  instances: ['instances'] as const,
  instance: (id: string) => ['instance', id] as const,
  billingProfiles: ['billing-profiles'] as const,
  tickets: ['tickets'] as const,
  members: ['members'] as const,
};

export function useCatalog() {
  return useQuery({
    queryKey: keys.catalog,
    queryFn: () => api<PublicCatalog>('GET', '/api/v1/catalog'),
    staleTime: 5 * 60_000,
  });
}

export function useOrders(status?: OrderStatus, refetchInterval?: number) {
  return useQuery({
    queryKey: keys.orders(status),
    queryFn: () =>
      api<List<Order>>(
        'GET',
        `/api/v1/orders?limit=100${status ? `&status=${encodeURIComponent(status)}` : ''}`,
      ),
    refetchInterval,
  });
}

export function useInstances() {
  return useQuery({
    queryKey: keys.instances,
    queryFn: () => api<List<Instance>>('GET', '/api/v1/instances'),
  });
}

export function useInstance(id: string) {
  return useQuery({
    queryKey: keys.instance(id),
    queryFn: () => api<Instance>('GET', `/api/v1/instances/${encodeURIComponent(id)}`),
  });
}

export function useBillingProfiles(enabled = true) {
  return useQuery({
    queryKey: keys.billingProfiles,
    queryFn: () => api<List<BillingProfile>>('GET', '/api/v1/billing-profiles?limit=100'),
    enabled,
  });
}

export function useTickets() {
  return useQuery({
    queryKey: keys.tickets,
    queryFn: () => api<List<Ticket>>('GET', '/api/v1/tickets?limit=100'),
  });
}

export function useMembers() {
  return useQuery({ queryKey: keys.members, queryFn: () => api<List<Member>>('GET', '/api/v1/members') });
}
