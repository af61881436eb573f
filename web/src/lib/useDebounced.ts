import { useEffect, useRef, useState } from 'react';

/**
 * A text input bound to a URL value: typing updates the field at once and calls `commit`
 * after `ms` of quiet; a change of the URL value (back button, a link) resets the field.
 */
export function useDebouncedField(value: string, commit: (v: string) => void, ms = 300) {
  const [text, setText] = useState(value);
  const latest = useRef(commit);
  latest.current = commit;
  const [prev, setPrev] = useState(value);
  if (value !== prev) {
    setPrev(value);
    setText(value);
  }
  useEffect(() => {
    if (text.trim() === value) return;
    const t = setTimeout(() => latest.current(text.trim()), ms);
    return () => clearTimeout(t);
  }, [text, value, ms]);
  return [text, setText] as const;
}
