/**
 * A model version's lifecycle actions: Promote (to staging or production, behind an
 * optional gate such as `accuracy>=0.9`), Approve and Reject, each behind Lab's
 * confirmation dialog. A promotion the gate refuses shows the server's reason.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import {
  checkIcon,
  closeIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { APIError, IModel, ServerlessService } from './api';
import { IViewProps } from './registry';

const STAGES = ['staging', 'production'];

/** What the promote dialog asks: the stage, and gates (comma separated). */
interface IPromotion {
  stage: string;
  require: string[];
}

/** The promote dialog's body: a stage and an optional gate, Lab-styled form fields. */
class PromoteBody extends Widget {
  constructor(model: IModel) {
    super();
    this.addClass('jsml-promote-form');
    const stage = document.createElement('label');
    stage.textContent = 'Stage ';
    this._stage = document.createElement('select');
    this._stage.className = 'jp-mod-styled jsml-promote-stage';
    this._stage.setAttribute('aria-label', 'stage');
    for (const s of STAGES) {
      const option = document.createElement('option');
      option.value = option.textContent = s;
      this._stage.appendChild(option);
    }
    this._stage.value = model.stage === 'staging' ? 'production' : 'staging';
    stage.appendChild(this._stage);
    const gate = document.createElement('label');
    gate.textContent = 'Gate (optional) ';
    this._gate = document.createElement('input');
    this._gate.className = 'jp-mod-styled jsml-promote-gate';
    this._gate.setAttribute('aria-label', 'gate');
    this._gate.placeholder = 'accuracy>=0.9';
    gate.appendChild(this._gate);
    const metrics = document.createElement('p');
    metrics.className = 'jsml-note';
    const known = Object.keys(model.metrics || {});
    metrics.textContent = known.length
      ? `Metrics: ${known.join(', ')}. Separate gates with commas.`
      : 'This version logged no metrics; a gate would refuse it.';
    this.node.append(stage, gate, metrics);
  }

  getValue(): IPromotion {
    return {
      stage: this._stage.value,
      require: this._gate.value
        .split(',')
        .map(g => g.trim())
        .filter(g => g.length > 0)
    };
  }

  private _stage: HTMLSelectElement;
  private _gate: HTMLInputElement;
}

/** Ask for the stage and gate, then promote; the server's reason when refused. */
export async function confirmPromote(
  service: ServerlessService,
  model: IModel
): Promise<string | null> {
  const answer = await showDialog<IPromotion>({
    title: `Promote ${model.name}:${model.version}?`,
    body: new PromoteBody(model),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Promote' })]
  });
  if (!answer.button.accept || !answer.value) {
    return null;
  }
  try {
    await service.setStage(model.name, model.version, {
      stage: answer.value.stage,
      require: answer.value.require,
      backend: model.backend
    });
  } catch (reason) {
    if (reason instanceof APIError && reason.status === 409) {
      return reason.message;
    }
    throw reason;
  }
  return null;
}

/** Ask, then set the version's approval (Approved or Rejected). */
export async function confirmApproval(
  service: ServerlessService,
  model: IModel,
  approval: 'Approved' | 'Rejected'
): Promise<boolean> {
  const verb = approval === 'Approved' ? 'Approve' : 'Reject';
  const answer = await showDialog({
    title: `${verb} ${model.name}:${model.version}?`,
    body:
      approval === 'Approved'
        ? 'Marks the version approved for deployment.'
        : 'Marks the version rejected; a rejected version is not deployed by stage.',
    buttons: [
      Dialog.cancelButton(),
      approval === 'Approved'
        ? Dialog.okButton({ label: verb })
        : Dialog.warnButton({ label: verb })
    ]
  });
  if (!answer.button.accept) {
    return false;
  }
  await service.setApproval(model.name, model.version, {
    approval,
    backend: model.backend
  });
  return true;
}

/** Promote, Approve and Reject for one version; a refusal's reason under them. */
export function ModelActions(props: {
  view: IViewProps;
  model: IModel;
}): JSX.Element {
  const { view, model } = props;
  const [refused, setRefused] = React.useState<string | null>(null);
  const ref = `${model.name}:${model.version}`;
  const service = view.model.service;
  return (
    <div className="jsml-model-actions" data-actions={ref}>
      <div className="jsml-details-head">
        <ToolbarButtonComponent
          className="jsml-promote"
          label="Promote…"
          tooltip={`Promote ${ref} to staging or production`}
          onClick={() =>
            view.act(async () =>
              setRefused(await confirmPromote(service, model))
            )
          }
        />
        {model.approval !== 'Approved' && (
          <ToolbarButtonComponent
            className="jsml-approve"
            icon={checkIcon}
            label="Approve"
            tooltip={`Approve ${ref}`}
            onClick={() =>
              view.act(async () => {
                if (await confirmApproval(service, model, 'Approved')) {
                  setRefused(null);
                }
              })
            }
          />
        )}
        {model.approval !== 'Rejected' && (
          <ToolbarButtonComponent
            className="jsml-reject"
            icon={closeIcon}
            label="Reject"
            tooltip={`Reject ${ref}`}
            onClick={() =>
              view.act(async () => {
                if (await confirmApproval(service, model, 'Rejected')) {
                  setRefused(null);
                }
              })
            }
          />
        )}
      </div>
      {refused && (
        <p className="jsml-failure jsml-refused" role="alert">
          Promotion refused: {refused}
        </p>
      )}
    </div>
  );
}
