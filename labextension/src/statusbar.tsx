/**
 * The status-bar item: running jobs, endpoints in service, and this month's
 * cost (what SageMaker would bill); a click opens the sidebar.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { money } from './common';
import { useTicks } from './hooks';
import { ServerlessModel } from './model';
import { serverlessIcon } from './icons';

export function StatusItem(props: {
  model: ServerlessModel;
  onClick: () => void;
}): JSX.Element {
  useTicks(props.model);
  const summary = props.model.summary;
  const running = summary?.running_jobs ?? 0;
  const endpoints = summary?.endpoints_in_service ?? 0;
  const cost = summary?.cost_month?.sagemaker;
  const text = summary?.platform.running
    ? `${running} running · ${endpoints} in service · ${money(cost)}`
    : 'platform stopped';
  const label =
    `Serverless ML: ${running} jobs running, ${endpoints} endpoints in service` +
    (cost !== undefined
      ? `, ${money(cost)} this month (SageMaker prices)`
      : '');
  return (
    <button
      className="jsml-statusbar"
      title={`${label}. Click to open the Serverless ML panel.`}
      aria-label={label}
      data-running={running}
      data-endpoints={endpoints}
      data-cost={cost ?? ''}
      onClick={props.onClick}
    >
      <serverlessIcon.react tag="span" className="jsml-statusbar-icon" />
      <span>{text}</span>
    </button>
  );
}

export class StatusWidget extends ReactWidget {
  constructor(
    private readonly model: ServerlessModel,
    private readonly onClick: () => void
  ) {
    super();
    this.addClass('jsml-statusbar-item');
  }
  render(): JSX.Element {
    return <StatusItem model={this.model} onClick={this.onClick} />;
  }
}
