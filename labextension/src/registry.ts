/**
 * The tabs of the sidebar and the sections of the dashboard, keyed by the
 * backend feature each needs (`GET backends` lists the configured ones).
 *
 * A new capability (Tuning, Pipelines, Schedules) is one module that exports
 * an `ITab` (its feature, icon, a compact sidebar view and a full dashboard
 * view); `index.ts` adds it with `tabs.add(...)`. Nothing else changes: the
 * sidebar and the dashboard show it only when some configured backend has the
 * feature. (Modules are imported for what they export, never for side effects:
 * the build drops side-effect-only imports.)
 */
import { LabIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IBackends } from './api';
import { ServerlessModel } from './model';

/** What a view gets. `open` shows something in the dashboard's main area. */
export interface IViewProps {
  model: ServerlessModel;
  backends: IBackends;
  /** Whether the view shows (poll only then). */
  visible: boolean;
  /** Run an action, report its error, refresh. */
  act: (what: () => Promise<unknown>) => Promise<void>;
  onError: (message: string | null) => void;
  /** Open a page of the dashboard: a section, or a job's or an endpoint's page. */
  open: (page: IPage) => void;
}

/** A page of the dashboard. */
export type IPage =
  | { kind: 'section'; id: string }
  | { kind: 'job'; id: string }
  | { kind: 'endpoint'; name: string };

export interface ITab {
  /** A short id (`data-tab` in the DOM). */
  id: string;
  /** The tab's name (tooltip and screen-reader label). */
  label: string;
  /** The backend feature it needs (`training`, `serving`, ...). */
  feature: string;
  /** Order in the strip, smaller first. */
  rank: number;
  icon: LabIcon;
  /** The compact view for the sidebar (read well from 250 px). */
  sidebar: React.ComponentType<IViewProps>;
  /** The full view for the dashboard; the sidebar's when left out. */
  dashboard?: React.ComponentType<IViewProps>;
  /** A count shown on the tab (open alerts), or null. */
  badge?: (model: ServerlessModel) => number | null;
}

export class TabRegistry {
  /** Add a tab (its id must be new). */
  add(tab: ITab): void {
    if (this._tabs.some(t => t.id === tab.id)) {
      throw new Error(`jupyter-serverless-ml: tab ${tab.id} is already added`);
    }
    this._tabs.push(tab);
    this._tabs.sort((a, b) => a.rank - b.rank);
  }
  /** Every tab added, in order. */
  all(): ITab[] {
    return [...this._tabs];
  }
  /** The tabs some configured backend supports (none until `backends` answers). */
  offered(backends: IBackends | null): ITab[] {
    const features = new Set(backends?.features || []);
    return this._tabs.filter(t => features.has(t.feature));
  }
  private _tabs: ITab[] = [];
}

/** The one registry the sidebar and the dashboard read. */
export const tabs = new TabRegistry();
