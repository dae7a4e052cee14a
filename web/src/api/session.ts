import { useQuery, useQueryClient } from '@tanstack/react-query';
import { can, type Permission } from '../../../src/accounts/roles';
import { api, ApiError, setCsrfToken } from './client';
import type { Session } from './types';

export const sessionKey = ['session'] as const;

async function fetchSession(): Promise<Session | null> {
  try {
    const session = await api<Session>('GET', '/api/v1/auth/session');
    if (session.csrfToken) setCsrfToken(session.csrfToken);
    return session;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      setCsrfToken(undefined);
      return null;
    }
    throw error;
  }
}

/** The signed-in user and organisation, or null. */
export function useSession() {
  return useQuery({ queryKey: sessionKey, queryFn: fetchSession, staleTime: 5 * 60_000, retry: false });
}

/** After sign-up, login or accepting an invitation: the answer is the session. */
export function useStartSession() {
  const queryClient = useQueryClient();
  return (session: Session) => {
    setCsrfToken(session.csrfToken);
    queryClient.setQueryData(sessionKey, (previous: Session | null | undefined) => ({
      ...session,
      sourceAddress: session.sourceAddress ?? previous?.sourceAddress,
    }));
    // The answer of login/sign-up lacks sourceAddress: fetch the full session in the background.
    void queryClient.invalidateQueries({ queryKey: sessionKey });
  };
}

export function useCan(permission: Permission): boolean {
  const { data } = useSession();
  return data ? can(data.user.role, permission) : false;
}
