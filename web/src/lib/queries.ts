import { queryOptions } from '@tanstack/react-query';
import { get } from './api';
import type { User } from './types';

export const userQuery = queryOptions({
  queryKey: ['user'],
  queryFn: () => get<User>('/user', undefined, { noTeam: true, noAuthRedirect: true }),
  staleTime: 5 * 60_000,
});
