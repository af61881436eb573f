// One field of the agent's settings: its label, hint, and the problems found on it (shown only
// once the user has touched the field, or asked to see every problem).
import { useId, type ReactNode } from 'react';
import { Label } from '@/components/ui/label';
import { settingKey, useUi } from './ui';

export function SettingField({ field, label, hint, children }: { field: string; label: string; hint?: string; children: (p: { id: string; 'aria-invalid': boolean; 'aria-describedby'?: string; onBlur: () => void }) => ReactNode }) {
  const id = useId();
  const visible = useUi((s) => s.showAll || s.touched.has(settingKey(field)));
  const all = useUi((s) => s.problems);
  const problems = visible ? all.filter((p) => p.setting === field).map((p) => p.message) : [];
  const described = [hint ? `${id}-hint` : '', problems.length ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="flex flex-col gap-1">
      <Label htmlFor={id}>{label}</Label>
      {children({ id, 'aria-invalid': problems.length > 0, 'aria-describedby': described, onBlur: () => useUi.getState().touch(settingKey(field)) })}
      {hint ? (
        <p id={`${id}-hint`} className="text-xs text-slate-700">
          {hint}
        </p>
      ) : null}
      {problems.length ? (
        <ul id={`${id}-err`} className="text-xs text-red-800" data-testid="field-problem">
          {problems.map((m, i) => (
            <li key={i}>{m}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
