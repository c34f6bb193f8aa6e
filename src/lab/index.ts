/** cellpipe's JupyterLab plugins (being written by the lab-frontend helper). */
export default [];
