/** The extension's own icon (the sidebar tab, the dashboard, the launcher). */
import { LabIcon } from '@jupyterlab/ui-components';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">
<path class="jp-icon3" fill="#616161" d="M6.5 19a4.5 4.5 0 0 1-.6-8.96A6 6 0 0 1 17.6 8.1 4.5 4.5 0 0 1 17.5 19h-11zm3-3h2v-4h2l-3-3-3 3h2v4z"/>
</svg>`;

export const serverlessIcon = new LabIcon({
  name: 'jupyter-serverless-ml:icon',
  svgstr: ICON_SVG
});
