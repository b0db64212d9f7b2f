/**
 * jupyter-serverless-ml: the "Serverless ML" sidebar in JupyterLab's left area.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { LabIcon } from '@jupyterlab/ui-components';

import { ServerlessService } from './api';
// eslint-disable-next-line jupyter/prefer-lazy-imports -- activate() adds the panel at once
import { ServerlessPanel } from './panel';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">
<path class="jp-icon3" fill="#616161" d="M6.5 19a4.5 4.5 0 0 1-.6-8.96A6 6 0 0 1 17.6 8.1 4.5 4.5 0 0 1 17.5 19h-11zm3-3h2v-4h2l-3-3-3 3h2v4z"/>
</svg>`;

export const serverlessIcon = new LabIcon({
  name: 'jupyter-serverless-ml:icon',
  svgstr: ICON_SVG
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-serverless-ml:sidebar',
  description:
    'Jobs, endpoints, models, costs and drift alerts of jupyter-serverless-ml, live.',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const panel = new ServerlessPanel(new ServerlessService());
    panel.title.icon = serverlessIcon;
    panel.title.caption = 'Serverless ML';
    app.shell.add(panel, 'left', { rank: 900 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }
  }
};

export default plugin;
