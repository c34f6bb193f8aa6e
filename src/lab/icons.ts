/** cellpipe's icons: the pipeline (sidebar tab, settings, toolbar Run button) and the tag (cell toolbar). */
import { LabIcon } from '@jupyterlab/ui-components';

export const pipelineIcon = new LabIcon({
  name: 'cellpipe:pipeline',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<rect x="3" y="2" width="8" height="5" rx="1.5"/><rect x="13" y="9.5" width="8" height="5" rx="1.5"/><rect x="3" y="17" width="8" height="5" rx="1.5"/>' +
    '<path d="M7 7v2.5h6v1.5H6V7zM13 13v1H8v3H6.5v-4.5z"/></g></svg>',
});

export const tagIcon = new LabIcon({
  name: 'cellpipe:tag',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path class="jp-icon3" fill="#616161" ' +
    'd="M3 3h8l10 10-8 8L3 11zm4 2.5A1.5 1.5 0 1 0 7 8.5 1.5 1.5 0 0 0 7 5.5z"/></svg>',
});
