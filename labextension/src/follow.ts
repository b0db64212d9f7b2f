/** Follow one job: its record and its log, with the log's opaque cursor, until it ends. */
import { Poll } from '@lumino/polling';
import * as React from 'react';

import { IJob, ServerlessService } from './api';
import { describe } from './common';

export function useJobFollow(
  service: ServerlessService,
  id: string,
  terminal: Set<string>,
  onError: (message: string | null) => void
): { job: IJob | null; log: string } {
  const [job, setJob] = React.useState<IJob | null>(null);
  const [log, setLog] = React.useState('');
  // the log's opaque cursor: none for the first request, then the last reply's
  const cursor = React.useRef<string | undefined>(undefined);
  // whether a log reply has already said the job was finished
  const finished = React.useRef(false);
  const statuses = React.useRef(terminal);
  statuses.current = terminal;
  React.useEffect(() => {
    let alive = true;
    cursor.current = undefined;
    finished.current = false;
    setLog('');
    const poll = new Poll({
      factory: async () => {
        try {
          const [record, chunk] = await Promise.all([
            service.job(id),
            service.logs(id, cursor.current)
          ]);
          if (!alive) {
            return;
          }
          if (typeof chunk.cursor === 'string') {
            cursor.current = chunk.cursor;
          }
          if (chunk.text) {
            setLog(previous => previous + chunk.text);
          }
          setJob(record);
          const wasFinished = finished.current;
          finished.current = statuses.current.has(chunk.status);
          if (wasFinished && !chunk.text) {
            // asked after a reply that saw the job finished, and nothing more:
            // the log is complete
            void poll.stop();
          }
        } catch (reason) {
          onError(describe(reason));
          throw reason;
        }
      },
      frequency: { interval: 1000, backoff: true, max: 15 * 1000 },
      standby: 'when-hidden',
      name: `jupyter-serverless-ml:job:${id}`
    });
    void poll.start();
    return () => {
      alive = false;
      poll.dispose();
    };
  }, [id]);
  return { job, log };
}
