// Who is signed in and which team the dashboard acts for. The user comes from `GET /user`
// (which also carries the CSRF token); the team picked in the switcher is remembered in
// localStorage and sent as `team_id` on every request.
import { create } from 'zustand';
import type { User } from './types';

const TEAM_KEY = 'parley.team';

function remembered(): string | null {
  try {
    return localStorage.getItem(TEAM_KEY);
  } catch {
    return null;
  }
}

/** The team to act for: the remembered one if the user still belongs to it, else the first. */
export function pickTeam(user: User, rememberedId: string | null): string | null {
  if (rememberedId && user.teams.some((t) => t.id === rememberedId)) return rememberedId;
  return user.teams[0]?.id ?? null;
}

interface SessionState {
  user: User | null;
  teamId: string | null;
  setUser: (u: User | null) => void;
  selectTeam: (id: string) => void;
}

export const useSession = create<SessionState>((set, get) => ({
  user: null,
  teamId: null,
  setUser: (user) => set({ user, teamId: user ? pickTeam(user, get().teamId ?? remembered()) : null }),
  selectTeam: (id) => {
    try {
      localStorage.setItem(TEAM_KEY, id);
    } catch {
      /* private mode: the choice lasts for this tab */
    }
    set({ teamId: id });
  },
}));

export const useTeamId = () => useSession((s) => s.teamId) ?? '';
export const useCurrentTeam = () =>
  useSession((s) => s.user?.teams.find((t) => t.id === s.teamId) ?? null);
