/**
 * Commands (palette, launcher, context menus on rows) and notifications.
 *
 * A row's command reads which job, endpoint or alert from the row the context
 * menu opened on (`data-job`, `data-endpoint`, `data-alert`), or from its args.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';

import { describe } from './common';
import { confirmUndeploy } from './endpoints';
import { ServerlessModel, News } from './model';
import { IPage } from './registry';
import { serverlessIcon } from './icons';

export namespace CommandIDs {
  export const openPanel = 'jupyter-serverless-ml:open-panel';
  export const openDashboard = 'jupyter-serverless-ml:open-dashboard';
  export const openJob = 'jupyter-serverless-ml:open-job';
  export const openEndpoint = 'jupyter-serverless-ml:open-endpoint';
  export const stopJob = 'jupyter-serverless-ml:stop-job';
  export const undeploy = 'jupyter-serverless-ml:undeploy-endpoint';
  export const acknowledge = 'jupyter-serverless-ml:acknowledge-alert';
  export const refresh = 'jupyter-serverless-ml:refresh';
  export const startPlatform = 'jupyter-serverless-ml:start-platform';
}

const CATEGORY = 'Serverless ML';

/** What a command's arguments are (Lab shows it to tools that run commands). */
function describedBy(
  properties: Record<string, { type: string; description: string }> = {}
) {
  return { args: { type: 'object', properties } };
}
const JOB_ARGS = describedBy({
  id: { type: 'string', description: 'the job id (else the row clicked)' }
});
const ENDPOINT_ARGS = describedBy({
  name: { type: 'string', description: 'the endpoint (else the row clicked)' }
});

/** The `data-<key>` of the row under the context menu, or of the args. */
function target(
  app: JupyterFrontEnd,
  key: 'job' | 'endpoint' | 'alert',
  args: Record<string, unknown>
): { value: string; status: string } | null {
  const given = args[key === 'endpoint' ? 'name' : 'id'];
  if (typeof given === 'string' || typeof given === 'number') {
    return { value: String(given), status: String(args.status || '') };
  }
  const node = app.contextMenuHitTest(n => n.dataset[key] !== undefined);
  return node
    ? { value: node.dataset[key]!, status: node.dataset.status || '' }
    : null;
}

export function addCommands(
  app: JupyterFrontEnd,
  model: ServerlessModel,
  showPanel: () => void,
  openPage: (page: IPage) => void,
  palette: ICommandPalette | null,
  launcher: ILauncher | null
): void {
  const { commands } = app;
  const run = async (what: () => Promise<unknown>) => {
    try {
      await what();
    } catch (reason) {
      Notification.error(describe(reason), { autoClose: 8000 });
    }
    await model.refresh();
  };
  commands.addCommand(CommandIDs.openPanel, {
    describedBy: describedBy(),
    label: 'Open Serverless ML Panel',
    caption: 'Show the Serverless ML sidebar',
    icon: serverlessIcon,
    execute: showPanel
  });
  commands.addCommand(CommandIDs.openDashboard, {
    describedBy: describedBy({
      section: {
        type: 'string',
        description: 'jobs, endpoints, models, costs or alerts'
      }
    }),
    label: args =>
      args.isLauncher
        ? 'Serverless ML Dashboard'
        : 'Open Serverless ML Dashboard',
    caption: 'Jobs, endpoints, models, costs and alerts in the main area',
    icon: serverlessIcon,
    execute: args =>
      openPage({ kind: 'section', id: String(args.section || 'jobs') })
  });
  commands.addCommand(CommandIDs.openJob, {
    describedBy: JOB_ARGS,
    label: 'Open Job Page',
    isEnabled: () => true,
    execute: args => {
      const job = target(app, 'job', args);
      if (job) {
        openPage({ kind: 'job', id: job.value });
      }
    }
  });
  commands.addCommand(CommandIDs.openEndpoint, {
    describedBy: ENDPOINT_ARGS,
    label: 'Open Endpoint Page',
    execute: args => {
      const endpoint = target(app, 'endpoint', args);
      if (endpoint) {
        openPage({ kind: 'endpoint', name: endpoint.value });
      }
    }
  });
  commands.addCommand(CommandIDs.stopJob, {
    describedBy: JOB_ARGS,
    label: args => (args.id ? `Stop Job ${args.id}` : 'Stop Job'),
    caption: 'Stop a running training job',
    isEnabled: args => {
      const job = target(app, 'job', args);
      return !!job && (!job.status || model.activeStatuses.has(job.status));
    },
    execute: async args => {
      const job = target(app, 'job', args);
      if (!job) {
        return;
      }
      const answer = await showDialog({
        title: `Stop ${job.value}?`,
        body: 'The job is asked to stop; what it wrote so far is kept.',
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Stop' })]
      });
      if (answer.button.accept) {
        await run(() => model.service.stopJob(job.value));
      }
    }
  });
  commands.addCommand(CommandIDs.undeploy, {
    describedBy: ENDPOINT_ARGS,
    label: args => (args.name ? `Undeploy ${args.name}` : 'Undeploy Endpoint'),
    caption: 'Drain and delete an endpoint',
    execute: async args => {
      const endpoint = target(app, 'endpoint', args);
      if (endpoint) {
        await run(() => confirmUndeploy(model.service, endpoint.value));
      }
    }
  });
  commands.addCommand(CommandIDs.acknowledge, {
    describedBy: describedBy({
      id: { type: 'number', description: 'the alert id (else the row clicked)' }
    }),
    label: 'Acknowledge Alert',
    execute: async args => {
      const alert = target(app, 'alert', args);
      if (alert) {
        await run(() => model.service.acknowledge(Number(alert.value)));
      }
    }
  });
  commands.addCommand(CommandIDs.refresh, {
    describedBy: describedBy(),
    label: 'Refresh Serverless ML',
    execute: () => model.refresh()
  });
  commands.addCommand(CommandIDs.startPlatform, {
    describedBy: describedBy(),
    label: 'Start the Local Platform',
    caption: 'Start the embedded local ML platform (jobs, endpoints)',
    isEnabled: () => !model.summary?.platform.running,
    execute: () => run(() => model.service.startPlatform())
  });

  for (const command of [
    CommandIDs.openPanel,
    CommandIDs.openDashboard,
    CommandIDs.refresh,
    CommandIDs.startPlatform,
    CommandIDs.stopJob,
    CommandIDs.undeploy
  ]) {
    palette?.addItem({ command, category: CATEGORY });
  }
  launcher?.add({
    command: CommandIDs.openDashboard,
    args: { isLauncher: true },
    category: 'Other',
    rank: 50
  });

  const menu: [string, string, number][] = [
    [CommandIDs.openJob, '.jsml-job-row', 1],
    [CommandIDs.stopJob, '.jsml-job-row', 2],
    [CommandIDs.openEndpoint, '.jsml-endpoint-row', 1],
    [CommandIDs.undeploy, '.jsml-endpoint-row', 2],
    [CommandIDs.acknowledge, '.jsml-alert-row:not(.jsml-acked)', 1]
  ];
  for (const [command, selector, rank] of menu) {
    app.contextMenu.addItem({ command, selector, rank });
  }
}

/** Lab notifications for finished jobs and fired alerts, as the settings allow. */
export function notify(
  app: JupyterFrontEnd,
  model: ServerlessModel,
  news: News[]
): void {
  const { notifyJobs, notifyAlerts } = model.settings;
  for (const item of news) {
    if (item.kind === 'job' && notifyJobs) {
      const failed = item.status === 'Failed';
      const message = failed
        ? `Job ${item.id} failed${item.reason ? `: ${item.reason}` : ''}`
        : `Job ${item.id} ${item.status.toLowerCase()}`;
      Notification.emit(message, failed ? 'error' : 'success', {
        autoClose: failed ? false : 8000,
        actions: [
          {
            label: 'Open',
            callback: () =>
              void app.commands.execute(CommandIDs.openJob, { id: item.id })
          }
        ]
      });
    } else if (item.kind === 'alert' && notifyAlerts) {
      Notification.warning(`Alert on ${item.endpoint}: ${item.message}`, {
        autoClose: false,
        actions: [
          {
            label: 'Show',
            callback: () =>
              void app.commands.execute(CommandIDs.openDashboard, {
                section: 'alerts'
              })
          }
        ]
      });
    }
  }
}
