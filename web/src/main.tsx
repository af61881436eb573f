import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { RouterProvider } from '@tanstack/react-router';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiError, configureApi } from './lib/api';
import { safeRedirect } from './lib/search';
import { useSession } from './lib/session';
import { makeRouter } from './router';
import './index.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A 4xx will not change by asking again; a network failure or a 5xx might.
      retry: (count, e) => count < 2 && !(e instanceof ApiError && e.status >= 400 && e.status < 500),
      refetchOnWindowFocus: false,
      staleTime: 10_000,
    },
  },
});

const router = makeRouter(queryClient);

let redirecting = false;
configureApi({
  teamId: () => useSession.getState().teamId,
  csrfToken: () => useSession.getState().user?.csrf_token ?? null,
  onUnauthorized: () => {
    // The session expired or was revoked: back to sign-in, then to where the person was.
    if (redirecting || router.state.location.pathname === '/signin') return;
    redirecting = true;
    const back = safeRedirect(router.state.location.href);
    queryClient.clear();
    useSession.getState().setUser(null);
    void router
      .navigate({ to: '/signin', search: back && back !== '/' ? { redirect: back } : {} })
      .finally(() => {
        redirecting = false;
      });
  },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
