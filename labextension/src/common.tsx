/** Small pieces every view uses: status badges, the error bar, formatting. */
import {
  checkIcon,
  circleEmptyIcon,
  closeIcon,
  LabIcon,
  runningIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { APIError, IBackends, IJob } from './api';

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
export const money = (v?: number | null) =>
  v === undefined || v === null ? '-' : `$${v.toFixed(v < 1 ? 4 : 2)}`;
export const ms = (v: number | null | undefined) =>
  v === null || v === undefined ? '-' : v.toFixed(1);

/** A span of seconds, short: 4.2s, 3.1m, 2.0h, 3d. */
export function span(seconds: number): string {
  if (seconds < 120) {
    return `${Math.max(0, seconds).toFixed(1)}s`;
  }
  if (seconds < 7200) {
    return `${(seconds / 60).toFixed(1)}m`;
  }
  if (seconds < 2 * 86400) {
    return `${(seconds / 3600).toFixed(1)}h`;
  }
  return `${Math.round(seconds / 86400)}d`;
}

/** How long ago, short (`3m ago`). */
export const ago = (ts?: number | null) =>
  ts ? `${span(Date.now() / 1000 - ts)} ago` : '-';

/** A job's run time so far ('-' before it starts). */
export function duration(job: {
  started_at?: number | null;
  ended_at?: number | null;
}): string {
  if (!job.started_at) {
    return '-';
  }
  return span((job.ended_at || Date.now() / 1000) - job.started_at);
}

/** Seconds a job ran (for sorting): -1 before it starts. */
export const seconds = (job: IJob) =>
  job.started_at ? (job.ended_at || Date.now() / 1000) - job.started_at : -1;

/** Each status's icon (Lab's own); the colour comes from the CSS class. */
const STATUS_ICONS: Record<string, LabIcon> = {
  completed: checkIcon,
  succeeded: checkIcon,
  approved: checkIcon,
  production: checkIcon,
  inservice: checkIcon,
  ok: checkIcon,
  failed: closeIcon,
  rejected: closeIcon,
  inalert: closeIcon,
  running: runningIcon,
  executing: runningIcon,
  starting: runningIcon,
  preparing: runningIcon,
  creating: runningIcon,
  updating: runningIcon,
  stopping: stopIcon,
  stopped: stopIcon,
  deleting: stopIcon,
  deleted: stopIcon
};

/**
 * Each status's icon as a CSS mask, in one style sheet added once: a badge is
 * then a span whose colour paints Lab's icon (1,000 rows must render fast, so
 * no SVG is parsed per row).
 */
let iconSheet: HTMLStyleElement | null = null;
function addIconSheet(): void {
  if (iconSheet) {
    return;
  }
  const rule = (selector: string, icon: LabIcon) => {
    const url = `url("data:image/svg+xml,${encodeURIComponent(icon.svgstr)}")`;
    return `${selector}::before { -webkit-mask-image: ${url}; mask-image: ${url}; }`;
  };
  iconSheet = document.createElement('style');
  iconSheet.dataset.jsml = 'status-icons';
  iconSheet.textContent = [
    rule('.jsml-status', circleEmptyIcon),
    ...Object.entries(STATUS_ICONS).map(([key, icon]) =>
      rule(`.jsml-status.jsml-status-${key}`, icon)
    )
  ].join('\n');
  document.head.appendChild(iconSheet);
}

/**
 * A status badge: Lab's icon for the status (a `::before` masked by the icon),
 * the status' colour, and its name; one element, for lists of 1,000 rows.
 */
export function Status(props: { status: string; label?: string }): JSX.Element {
  addIconSheet();
  return (
    <span
      className={`jsml-status jsml-status-${props.status.toLowerCase()}`}
      title={props.status}
    >
      {props.label ?? props.status}
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

/** `key=value` pairs, short (metrics, hyperparameters). */
export function pairs(values: Record<string, unknown> | undefined): string {
  return (
    Object.entries(values || {})
      .map(([k, v]) =>
        typeof v === 'number' ? `${k}=${Number(v).toPrecision(4)}` : `${k}=${v}`
      )
      .join(' ') || '-'
  );
}

/** Handlers that make a row act as a button: Enter or Space opens it. */
export function activate(open: () => void): {
  onClick: () => void;
  onKeyDown: (event: React.KeyboardEvent) => void;
} {
  return {
    onClick: open,
    onKeyDown: event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        open();
      }
    }
  };
}

/** Arrow keys move the focus between a list's rows (`[data-row]` elements). */
export function arrowKeys(event: React.KeyboardEvent<HTMLElement>): void {
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') {
    return;
  }
  const rows = Array.from(
    event.currentTarget.querySelectorAll<HTMLElement>('[data-row]')
  );
  const at = rows.indexOf(document.activeElement as HTMLElement);
  const next = rows[at + (event.key === 'ArrowDown' ? 1 : -1)];
  if (next) {
    event.preventDefault();
    next.focus();
  }
}
