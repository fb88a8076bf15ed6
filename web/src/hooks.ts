// Hooks the views share.
import { useEffect } from "preact/hooks";

/** Run `tick` now and every `ms` while the component shows (and `deps` stay the same). `live()` turns
 * false once it is gone, so a late answer is dropped instead of set on an unmounted view. */
export function usePoll(tick: (live: () => boolean) => unknown, ms: number, deps: unknown[]): void {
  useEffect(() => {
    let on = true;
    const live = () => on;
    void tick(live);
    const timer = setInterval(() => void tick(live), ms);
    return () => {
      on = false;
      clearInterval(timer);
    };
  }, deps);
}
