/**
 * The extension's shared state: one poll of `GET dashboard/summary` (and of
 * `GET backends` when it may have changed) that the sidebar, the dashboard, the
 * status bar and the notifications all read. Views that need more (a page of
 * jobs, an endpoint's history) fetch it on each `ticked` signal while they show.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { IBackends, ISummary, ServerlessService } from './api';
import { describe } from './common';

/** What the user chose in Lab's settings editor (schema/plugin.json). */
export interface ISettings {
  /** Seconds between refreshes. */
  refreshInterval: number;
  /** The backend the job lists start filtered on ('' for all). */
  defaultBackend: string;
  /** Notify when a job started while this Lab is open completes or fails. */
  notifyJobs: boolean;
  /** Notify when an alert fires. */
  notifyAlerts: boolean;
}

export const DEFAULT_SETTINGS: ISettings = {
  refreshInterval: 2,
  defaultBackend: '',
  notifyJobs: true,
  notifyAlerts: true
};

/** Refetch `backends` at least this often (also when the platform starts or stops). */
const BACKENDS_MAX_AGE_MS = 30 * 1000;

/** A job or an alert that has just reached a state worth a notification. */
export type News =
  | { kind: 'job'; id: string; status: string; reason: string | null }
  | { kind: 'alert'; id: number; endpoint: string; message: string };

export class ServerlessModel {
  constructor(readonly service: ServerlessService) {
    this._poll = new Poll({
      factory: () => this._refresh(),
      frequency: {
        interval: this._settings.refreshInterval * 1000,
        backoff: true,
        max: 30 * 1000
      },
      standby: 'when-hidden',
      name: 'jupyter-serverless-ml:summary'
    });
  }

  get settings(): ISettings {
    return this._settings;
  }
  set settings(value: ISettings) {
    const changed = value.refreshInterval !== this._settings.refreshInterval;
    this._settings = value;
    if (changed) {
      void this._poll.start();
      this._poll.frequency = {
        ...this._poll.frequency,
        interval: Math.max(1, value.refreshInterval) * 1000
      };
    }
    this._ticked.emit(undefined);
  }
  get backends(): IBackends | null {
    return this._backends;
  }
  get summary(): ISummary | null {
    return this._summary;
  }
  /** The last refresh's error, or null. */
  get error(): string | null {
    return this._error;
  }
  /** Emitted after every refresh (successful or not): views refetch what they show. */
  get ticked(): ISignal<this, void> {
    return this._ticked;
  }
  /** Jobs that finished and alerts that fired since the previous refresh. */
  get news(): ISignal<this, News[]> {
    return this._news;
  }
  /** The job statuses from `GET backends` (empty until it answers). */
  get activeStatuses(): Set<string> {
    return new Set(this._backends?.statuses.job_active || []);
  }
  get terminalStatuses(): Set<string> {
    return new Set(this._backends?.statuses.job_terminal || []);
  }

  /** Start polling. */
  start(): void {
    void this._poll.start();
  }
  /** Refresh now (the refresh command, and after every action). */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }
  dispose(): void {
    this._poll.dispose();
  }

  private async _refresh(): Promise<void> {
    try {
      const summary = await this.service.summary();
      const running = summary.platform.running;
      if (
        !this._backends ||
        this._knownRunning !== running ||
        Date.now() - this._backendsAt > BACKENDS_MAX_AGE_MS
      ) {
        this._backends = await this.service.backends();
        this._backendsAt = Date.now();
        this._knownRunning = running;
      }
      this._news.emit(this._compare(summary));
      this._summary = summary;
      this._error = null;
    } catch (reason) {
      this._error = describe(reason);
      this._ticked.emit(undefined);
      throw reason; // the poll backs off
    }
    this._ticked.emit(undefined);
  }

  /**
   * What changed since the last summary: jobs created after this Lab opened
   * that have reached a terminal status, and alerts not seen before.
   */
  private _compare(summary: ISummary): News[] {
    const news: News[] = [];
    const terminal = this.terminalStatuses;
    for (const job of summary.jobs) {
      if (
        job.created_at >= this._openedAt &&
        terminal.has(job.status) &&
        !this._notified.has(job.id)
      ) {
        this._notified.add(job.id);
        news.push({
          kind: 'job',
          id: job.id,
          status: job.status,
          reason: job.failure_reason
        });
      }
    }
    const first = this._summary === null;
    for (const alert of summary.alerts) {
      const firing =
        (alert.status || 'InAlert') === 'InAlert' && !alert.acknowledged_at;
      const was = this._firing.get(alert.id);
      this._firing.set(alert.id, firing);
      // a new alert, or one back InAlert after Ok: it fires (not what the Lab found open)
      if (firing && !was && !first) {
        news.push({
          kind: 'alert',
          id: alert.id,
          endpoint: alert.endpoint,
          message:
            alert.message ||
            `${alert.feature} ${alert.test} ${alert.value ?? ''} > ${alert.threshold ?? ''}`
        });
      }
    }
    return news;
  }

  private _settings: ISettings = { ...DEFAULT_SETTINGS };
  private _poll: Poll;
  private _backends: IBackends | null = null;
  private _backendsAt = 0;
  private _knownRunning: boolean | null = null;
  private _summary: ISummary | null = null;
  private _error: string | null = null;
  private _ticked = new Signal<this, void>(this);
  private _news = new Signal<this, News[]>(this);
  /** Seconds since the epoch when this Lab page opened (jobs created after are ours). */
  private _openedAt = Date.now() / 1000 - 5;
  private _notified = new Set<string>();
  /** Whether each alert was firing at the last refresh. */
  private _firing = new Map<number, boolean>();
}
