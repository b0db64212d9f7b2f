/** React hooks over the shared model: re-render on each refresh; fetch what a view shows. */
import * as React from 'react';

import { describe } from './common';
import { ServerlessModel } from './model';

/** Re-render the calling component after each refresh of the model. */
export function useTicks(model: ServerlessModel): number {
  const [ticks, setTicks] = React.useState(0);
  React.useEffect(() => {
    const bump = () => setTicks(n => n + 1);
    model.ticked.connect(bump);
    return () => {
      model.ticked.disconnect(bump);
    };
  }, [model]);
  return ticks;
}

/** What a fetch answered and when it arrived (`performance.now()`, for the benchmarks). */
export interface IFetched<T> {
  data: T | null;
  arrivedAt: number;
}

/**
 * Fetch with `load` now, whenever `deps` change, and after each refresh of the
 * model, while `visible`. Errors go to `onError` (null after a success).
 */
export function usePolled<T>(
  model: ServerlessModel,
  load: () => Promise<T>,
  deps: React.DependencyList,
  visible: boolean,
  onError: (message: string | null) => void
): IFetched<T> {
  const [fetched, setFetched] = React.useState<IFetched<T>>({
    data: null,
    arrivedAt: 0
  });
  const latest = React.useRef(load);
  latest.current = load;
  const generation = React.useRef(0);
  const run = React.useCallback(async () => {
    const mine = ++generation.current;
    try {
      const data = await latest.current();
      if (mine === generation.current) {
        setFetched({ data, arrivedAt: performance.now() });
        onError(null);
      }
    } catch (reason) {
      if (mine === generation.current) {
        onError(describe(reason));
      }
    }
  }, []);
  React.useEffect(() => {
    if (!visible) {
      return;
    }
    void run();
    const again = () => void run();
    model.ticked.connect(again);
    return () => {
      model.ticked.disconnect(again);
    };
  }, [model, visible, ...deps]);
  React.useEffect(
    () => () => {
      generation.current++; // answers after unmount are dropped
    },
    []
  );
  return fetched;
}
