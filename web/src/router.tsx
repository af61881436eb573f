// Code-based routes. Every page is its own chunk (lazyRouteComponent), so the first page
// loads only the shell; the search params of the list pages are typed (lib/search.ts).
import type { QueryClient } from '@tanstack/react-query';
import {
  createRootRouteWithContext,
  createRoute,
  createRouter,
  lazyRouteComponent,
  Link,
  Outlet,
  redirect,
} from '@tanstack/react-router';
import { AppShell } from './components/AppShell';
import { ApiError } from './lib/api';
import { userQuery } from './lib/queries';
import {
  safeRedirect,
  validateAgentsSearch,
  validateCallsSearch,
  validateContactsSearch,
} from './lib/search';
import { useSession } from './lib/session';

export interface RouterContext {
  queryClient: QueryClient;
}

function NotFound() {
  return (
    <div className="p-8">
      <h1 className="text-xl font-semibold text-slate-900">Page not found</h1>
      <p className="mt-2 text-sm text-slate-700">
        <Link to="/agents" className="text-indigo-700 underline">
          Go to Voice Agents
        </Link>
      </p>
    </div>
  );
}

const rootRoute = createRootRouteWithContext<RouterContext>()({
  component: Outlet,
  notFoundComponent: NotFound,
});

const signinRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: 'signin',
  validateSearch: (raw: Record<string, unknown>): { redirect?: string } => {
    const r = safeRedirect(raw.redirect);
    return r ? { redirect: r } : {};
  },
  component: lazyRouteComponent(() => import('./pages/SignIn'), 'SignInPage'),
});

const welcomeRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: 'welcome',
  validateSearch: (raw: Record<string, unknown>): { token?: string } =>
    typeof raw.token === 'string' && raw.token ? { token: raw.token.slice(0, 512) } : {},
  component: lazyRouteComponent(() => import('./pages/Welcome'), 'WelcomePage'),
});

/** Everything behind sign-in: loads the user (and so the CSRF token and the teams) first. */
const appRoute = createRoute({
  getParentRoute: () => rootRoute,
  id: '_auth',
  beforeLoad: async ({ context, location }) => {
    try {
      const user = await context.queryClient.ensureQueryData(userQuery);
      if (useSession.getState().user !== user) useSession.getState().setUser(user);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        const back = safeRedirect(location.href);
        throw redirect({ to: '/signin', search: back && back !== '/' ? { redirect: back } : {} });
      }
      throw e;
    }
  },
  component: AppShell,
});

const indexRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/',
  beforeLoad: () => {
    throw redirect({ to: '/agents' });
  },
});

const agentsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'agents',
  validateSearch: validateAgentsSearch,
  component: lazyRouteComponent(() => import('./pages/Agents'), 'AgentsPage'),
});

const agentRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'agents/$agentId',
  component: lazyRouteComponent(() => import('./pages/AgentEditor'), 'AgentEditorPage'),
});

const automationsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'automations',
  component: lazyRouteComponent(() => import('./pages/Automations'), 'AutomationsPage'),
});

const automationRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'automations/$automationId',
  component: lazyRouteComponent(() => import('./pages/AutomationBuilder'), 'AutomationBuilderPage'),
});

const automationRunsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'automations/$automationId/runs',
  component: lazyRouteComponent(() => import('./pages/AutomationRuns'), 'AutomationRunsPage'),
});

const automationRunRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'automations/$automationId/runs/$runId',
  component: lazyRouteComponent(() => import('./pages/AutomationRuns'), 'AutomationRunPage'),
});

const contactsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'contacts',
  validateSearch: validateContactsSearch,
  component: lazyRouteComponent(() => import('./pages/Contacts'), 'ContactsPage'),
});

const callsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'calls',
  validateSearch: validateCallsSearch,
  component: lazyRouteComponent(() => import('./pages/Calls'), 'CallsPage'),
});

const callRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'calls/$callId',
  component: lazyRouteComponent(() => import('./pages/CallDetail'), 'CallDetailPage'),
});

const callReplayRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'calls/$callId/replay',
  component: lazyRouteComponent(() => import('./pages/Replay'), 'ReplayPage'),
});

const numbersRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'phone-numbers',
  component: lazyRouteComponent(() => import('./pages/PhoneNumbers'), 'PhoneNumbersPage'),
});

const analyticsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'analytics',
  component: lazyRouteComponent(() => import('./pages/Analytics'), 'AnalyticsPage'),
});

const developerRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'settings/developer',
  component: lazyRouteComponent(() => import('./pages/Developer'), 'DeveloperPage'),
});

const membersRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'settings/team',
  component: lazyRouteComponent(() => import('./pages/Members'), 'MembersPage'),
});

export const routeTree = rootRoute.addChildren([
  signinRoute,
  welcomeRoute,
  appRoute.addChildren([
    indexRoute,
    agentsRoute,
    agentRoute,
    automationsRoute,
    automationRoute,
    automationRunsRoute,
    automationRunRoute,
    contactsRoute,
    callsRoute,
    callRoute,
    callReplayRoute,
    numbersRoute,
    analyticsRoute,
    developerRoute,
    membersRoute,
  ]),
]);

export function makeRouter(queryClient: QueryClient) {
  return createRouter({
    routeTree,
    basepath: '/app',
    context: { queryClient },
    defaultPreload: 'intent',
    scrollRestoration: true,
    defaultPendingMs: 300,
  });
}

declare module '@tanstack/react-router' {
  interface Register {
    router: ReturnType<typeof makeRouter>;
  }
}
