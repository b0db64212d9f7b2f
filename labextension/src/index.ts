/**
 * jupyter-serverless-ml in JupyterLab: the "Serverless ML" sidebar, the
 * dashboard in the main area, commands, context menus, a status-bar item,
 * notifications and settings (schema/plugin.json).
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';

import { ServerlessService } from './api';
// eslint-disable-next-line jupyter/prefer-lazy-imports -- activate() adds the commands at once
import { addCommands, CommandIDs, notify } from './commands';
import type { Dashboard } from './dashboard';
import { serverlessIcon } from './icons';
// eslint-disable-next-line jupyter/prefer-lazy-imports -- the panel and status bar read it at once
import { DEFAULT_SETTINGS, ISettings, ServerlessModel } from './model';
// eslint-disable-next-line jupyter/prefer-lazy-imports -- activate() adds the panel at once
import { ServerlessPanel } from './panel';
import { IPage } from './registry';
// eslint-disable-next-line jupyter/prefer-lazy-imports -- activate() adds the status-bar item at once
import { StatusWidget } from './statusbar';
// the tabs: one module per capability, each added to the registry below
import { endpointsTab } from './endpoints';
import { jobsTab } from './jobs';
import { modelsTab } from './models';
import { alertsTab, costsTab } from './monitoring';
import { pipelinesTab } from './pipelines';
import { schedulesTab } from './schedules';
import { tuningTab } from './tuning';
import { tabs } from './registry';

export { serverlessIcon };
export { tabs };

for (const tab of [
  jobsTab,
  endpointsTab,
  modelsTab,
  tuningTab,
  pipelinesTab,
  schedulesTab,
  costsTab,
  alertsTab
]) {
  tabs.add(tab);
}

const PLUGIN_ID = 'jupyter-serverless-ml:sidebar';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Jobs, endpoints, models, costs and drift alerts of jupyter-serverless-ml, live.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    ICommandPalette,
    ILauncher,
    IStatusBar,
    ISettingRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    statusBar: IStatusBar | null,
    settings: ISettingRegistry | null
  ) => {
    const model = new ServerlessModel(new ServerlessService());
    let dashboard: Dashboard | null = null;
    // the dashboard's code loads the first time it opens
    const openPage = async (page: IPage) => {
      if (!dashboard || dashboard.isDisposed) {
        const { Dashboard } = await import('./dashboard');
        if (!dashboard || dashboard.isDisposed) {
          dashboard = new Dashboard(model);
          app.shell.add(dashboard, 'main');
        }
      }
      dashboard.showPage(page);
      app.shell.activateById(dashboard.id);
    };
    const panel = new ServerlessPanel(model, openPage);
    panel.title.icon = serverlessIcon;
    panel.title.caption = 'Serverless ML';
    app.shell.add(panel, 'left', { rank: 900 });
    restorer?.add(panel, panel.id);
    const showPanel = () => app.shell.activateById(panel.id);

    addCommands(app, model, showPanel, openPage, palette, launcher);
    statusBar?.registerStatusItem('jupyter-serverless-ml:status', {
      item: new StatusWidget(model, showPanel),
      align: 'left',
      rank: 50
    });
    model.news.connect((_, news) => notify(app, model, news));

    if (settings) {
      void settings.load(PLUGIN_ID).then(loaded => {
        const apply = () => {
          model.settings = {
            ...DEFAULT_SETTINGS,
            ...(loaded.composite as unknown as Partial<ISettings>)
          };
        };
        apply();
        loaded.changed.connect(apply);
      });
    }
    model.start();
    void app.restored.then(() => {
      // the dashboard command is ready for the launcher and the palette
      app.commands.notifyCommandChanged(CommandIDs.openDashboard);
    });
  }
};

export default plugin;
