/** Small pieces every tab uses: status badges, the error bar, formatting. */
import * as React from 'react';

import { APIError, IBackends } from './api';

export interface IJobStatuses {
  all: string[];
  active: Set<string>;
  terminal: Set<string>;
}

export function jobStatuses(backends: IBackends): IJobStatuses {
  const { statuses } = backends;
  return {
    all: statuses.job,
    active: new Set(statuses.job_active),
    terminal: new Set(statuses.job_terminal)
  };
}

export const when = (ts?: number | null) =>
  ts ? new Date(ts * 1000).toLocaleString() : '-';
export const money = (v?: number) =>
  v === undefined ? '-' : `$${v.toFixed(v < 1 ? 4 : 2)}`;
export const ms = (v: number | null | undefined) =>
  v === null || v === undefined ? '-' : v.toFixed(1);

export function Status(props: { status: string }): JSX.Element {
  return (
    <span className={`jsml-status jsml-status-${props.status.toLowerCase()}`}>
      {props.status}
    </span>
  );
}

export function ErrorBar(props: { error: string | null }): JSX.Element | null {
  return props.error ? (
    <div className="jsml-error" role="alert">
      {props.error}
    </div>
  ) : null;
}

export function describe(error: unknown): string {
  return error instanceof APIError
    ? `${error.status || 'network'}: ${error.message}`
    : String(error);
}
