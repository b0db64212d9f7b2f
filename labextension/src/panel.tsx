/**
 * The Serverless ML sidebar, made for the left area's default width (250 px):
 * a toolbar (refresh, open the dashboard), a strip of icon tabs with tooltips
 * (only those some configured backend supports, from the tab registry), and the
 * chosen tab's compact view. Data comes from the shared model's poll.
 */
import {
  launchIcon,
  ReactWidget,
  refreshIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { ErrorBar } from './common';
import { useTicks } from './hooks';
import { ServerlessModel } from './model';
import { IPage, ITab, IViewProps, tabs } from './registry';

/** The strip of tabs: icons with tooltips, arrow keys move between them. */
export function TabStrip(props: {
  offered: ITab[];
  shown: string | null;
  choose: (id: string) => void;
  model: ServerlessModel;
}): JSX.Element {
  const refs = React.useRef<Record<string, HTMLButtonElement | null>>({});
  const onKeyDown = (event: React.KeyboardEvent) => {
    const ids = props.offered.map(t => t.id);
    const at = ids.indexOf(props.shown || '');
    const step =
      event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    if (step !== 0 && ids.length) {
      event.preventDefault();
      const next = ids[(at + step + ids.length) % ids.length];
      props.choose(next);
      refs.current[next]?.focus();
    }
  };
  return (
    <div
      className="jsml-tabs"
      role="tablist"
      aria-label="Serverless ML views"
      onKeyDown={onKeyDown}
    >
      {props.offered.map(t => {
        const count = t.badge ? t.badge(props.model) : null;
        const selected = t.id === props.shown;
        return (
          <button
            key={t.id}
            ref={node => (refs.current[t.id] = node)}
            role="tab"
            aria-selected={selected}
            aria-label={count ? `${t.label} (${count})` : t.label}
            title={t.label}
            tabIndex={selected ? 0 : -1}
            className={`jsml-tab${selected ? ' jsml-tab-active' : ''}`}
            data-tab={t.id}
            onClick={() => props.choose(t.id)}
          >
            <t.icon.react tag="span" className="jsml-tab-icon" />
            {count ? (
              <span className="jsml-badge" data-count={count}>
                {count}
              </span>
            ) : null}
          </button>
        );
      })}
    </div>
  );
}

/** The whole sidebar. */
export function SidebarApp(props: {
  model: ServerlessModel;
  visible: boolean;
  open: (page: IPage) => void;
}): JSX.Element {
  const { model } = props;
  useTicks(model);
  const [chosen, setChosen] = React.useState('jobs');
  const [error, setError] = React.useState<string | null>(null);
  const { backends, summary } = model;
  const offered = tabs.offered(backends);
  const shown = offered.find(t => t.id === chosen) || offered[0] || null;
  const platform = summary?.platform;
  const act = async (what: () => Promise<unknown>) => {
    try {
      await what();
      setError(null);
    } catch (reason) {
      setError(String((reason as Error).message || reason));
    }
    await model.refresh();
  };
  const broken = (backends?.backends || []).filter(b => b.error);
  const view: IViewProps | null =
    backends && shown
      ? {
          model,
          backends,
          visible: props.visible && !!platform?.running,
          act,
          onError: setError,
          open: props.open
        }
      : null;
  return (
    <div className="jsml-panel">
      <div className="jsml-header">
        <h2 className="jsml-title">Serverless ML</h2>
        <ToolbarButtonComponent
          icon={refreshIcon}
          tooltip="Refresh"
          onClick={() => void model.refresh()}
        />
        <ToolbarButtonComponent
          className="jsml-open-dashboard"
          icon={launchIcon}
          tooltip="Open the dashboard"
          onClick={() =>
            props.open({ kind: 'section', id: shown?.id || 'jobs' })
          }
        />
      </div>
      <div className="jsml-platform" title={platform?.url || ''}>
        {platform
          ? platform.running
            ? `local platform ${platform.url}`
            : 'platform stopped'
          : ''}
      </div>
      <ErrorBar error={error || model.error} />
      {broken.map(b => (
        <div key={b.name} className="jsml-backend-error" data-backend={b.name}>
          backend {b.name} did not load: {b.error}
        </div>
      ))}
      {platform && !platform.running && (
        <div className="jsml-banner">
          <p>The local platform is not running.</p>
          <button
            className="jp-Button jp-mod-styled jp-mod-accept jsml-start"
            onClick={() => act(() => model.service.startPlatform())}
          >
            Start platform
          </button>
        </div>
      )}
      {backends && offered.length === 0 && (
        <p className="jsml-empty">
          No backend is configured that this panel can show.
        </p>
      )}
      <TabStrip
        offered={offered}
        shown={shown?.id || null}
        choose={setChosen}
        model={model}
      />
      <div
        className="jsml-body"
        role="tabpanel"
        aria-label={shown?.label}
        data-shown={shown?.id}
      >
        {view && shown && <shown.sidebar key={shown.id} {...view} />}
      </div>
    </div>
  );
}

/** The Lumino widget that hosts the sidebar in the left area. */
export class ServerlessPanel extends ReactWidget {
  constructor(
    private readonly model: ServerlessModel,
    private readonly open: (page: IPage) => void
  ) {
    super();
    this.id = 'jupyter-serverless-ml-panel';
    this.addClass('jsml-root');
  }

  protected onAfterShow(): void {
    this.update();
  }
  protected onAfterHide(): void {
    this.update();
  }

  render(): JSX.Element {
    return (
      <SidebarApp
        model={this.model}
        visible={this.isVisible}
        open={this.open}
      />
    );
  }
}
