/**
 * The page and the backend are two builds of cellpipe: the labextension JupyterLab serves, and the Node backend the
 * Jupyter server starts. After an upgrade a browser may keep an old page, or two installs of cellpipe may each
 * provide one part; the API between them is only promised within one version, so a mismatch is said at start.
 */

/** What the sidebar says when the page's version is not the backend's, or null when they match. */
export function versionMismatch(page: string, backend: string): { text: string; hint: string } | null {
  if (page === backend) return null;
  return {
    text: `cellpipe's page is version ${page} but its backend is version ${backend}: some actions may fail`,
    hint: 'Reload this browser page (it may be from before an upgrade). If that does not help, two installs of cellpipe '
      + 'provide the page and the backend: run `pip install --upgrade cellpipe` in the environment that runs Jupyter, '
      + 'check `jupyter labextension list` shows one cellpipe, and restart JupyterLab.',
  };
}
