import { useSession } from '../api/session';

/** Whether the signed-in operator may act (role `operator`) or only read (`operator-read-only`). */
export function useOperatorMayAct(): boolean {
  const { data } = useSession();
  return data?.user.role === 'operator';
}
