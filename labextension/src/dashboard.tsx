/**
 * The dashboard in Lab's main area: one section per offered tab (its full
 * view from the registry), and the pages of a job and of an endpoint. Opened
 * from the sidebar, the command palette and the launcher.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import {
  caretLeftIcon,
  ReactWidget,
  refreshIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { ErrorBar } from './common';
import { useTicks } from './hooks';
import { ServerlessModel } from './model';
import { EndpointPage, JobPage } from './pages';
import { IPage, IViewProps, tabs } from './registry';
import { serverlessIcon } from './icons';

function pageTitle(page: IPage): string {
  return page.kind === 'job'
    ? `job ${page.id}`
    : page.kind === 'endpoint'
      ? `endpoint ${page.name}`
      : page.id;
}

export function DashboardApp(props: {
  model: ServerlessModel;
  page: IPage;
  visible: boolean;
  open: (page: IPage) => void;
  back: (() => void) | null;
}): JSX.Element {
  const { model, page } = props;
  useTicks(model);
  const [error, setError] = React.useState<string | null>(null);
  const { backends, summary } = model;
  const offered = tabs.offered(backends);
  const act = async (what: () => Promise<unknown>) => {
    try {
      await what();
      setError(null);
    } catch (reason) {
      setError(String((reason as Error).message || reason));
    }
    await model.refresh();
  };
  const running = !!summary?.platform.running;
  const view: IViewProps | null = backends
    ? {
        model,
        backends,
        visible: props.visible && running,
        act,
        onError: setError,
        open: props.open
      }
    : null;
  const section =
    page.kind === 'section'
      ? offered.find(t => t.id === page.id) || offered[0]
      : null;
  const Full = section ? section.dashboard || section.sidebar : null;
  return (
    <div className="jsml-dashboard">
      <nav className="jsml-dashboard-nav" aria-label="dashboard sections">
        {props.back && (
          <ToolbarButtonComponent
            icon={caretLeftIcon}
            tooltip="Back"
            onClick={props.back}
          />
        )}
        <div role="tablist" className="jsml-sections">
          {offered.map(t => {
            const count = t.badge ? t.badge(model) : null;
            return (
              <button
                key={t.id}
                role="tab"
                data-section={t.id}
                aria-selected={section?.id === t.id}
                className={`jp-Button jp-mod-minimal jsml-section${section?.id === t.id ? ' jsml-tab-active' : ''}`}
                onClick={() => props.open({ kind: 'section', id: t.id })}
              >
                <t.icon.react tag="span" className="jsml-tab-icon" />
                {t.label}
                {count ? <span className="jsml-badge">{count}</span> : null}
              </button>
            );
          })}
        </div>
        <ToolbarButtonComponent
          icon={refreshIcon}
          tooltip="Refresh"
          onClick={() => void model.refresh()}
        />
      </nav>
      <ErrorBar error={error || model.error} />
      {summary && !running && (
        <p className="jsml-empty">
          The local platform is not running: start it from the sidebar or the
          command palette (Serverless ML: Start Platform).
        </p>
      )}
      <main className="jsml-dashboard-body" aria-label={pageTitle(page)}>
        {view && Full && <Full key={section!.id} {...view} />}
        {view && page.kind === 'job' && (
          <JobPage key={page.id} view={view} id={page.id} />
        )}
        {view && page.kind === 'endpoint' && (
          <EndpointPage key={page.name} view={view} name={page.name} />
        )}
      </main>
    </div>
  );
}

/** The React content of the dashboard, with its page history. */
class DashboardContent extends ReactWidget {
  constructor(private readonly model: ServerlessModel) {
    super();
    this.addClass('jsml-dashboard-root');
  }
  get page(): IPage {
    return this._history[this._history.length - 1];
  }
  showPage(page: IPage): void {
    if (JSON.stringify(page) !== JSON.stringify(this.page)) {
      this._history.push(page);
    }
    this.update();
  }
  protected onAfterShow(): void {
    this.update();
  }
  protected onAfterHide(): void {
    this.update();
  }
  render(): JSX.Element {
    return (
      <DashboardApp
        model={this.model}
        page={this.page}
        visible={this.isVisible}
        open={page => this.showPage(page)}
        back={
          this._history.length > 1
            ? () => {
                this._history.pop();
                this.update();
              }
            : null
        }
      />
    );
  }
  private _history: IPage[] = [{ kind: 'section', id: 'jobs' }];
}

/** The dashboard in a MainAreaWidget (Lab's frame: tab title, toolbar area). */
export class Dashboard extends MainAreaWidget<DashboardContent> {
  constructor(model: ServerlessModel) {
    super({ content: new DashboardContent(model) });
    this.id = 'jupyter-serverless-ml-dashboard';
    this.title.label = 'Serverless ML';
    this.title.icon = serverlessIcon;
    this.title.closable = true;
    this.addClass('jsml-dashboard-widget');
  }
  /** Show a page (a section, a job, an endpoint). */
  showPage(page: IPage): void {
    this.content.showPage(page);
  }
}
