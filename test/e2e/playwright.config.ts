import { defineConfig } from '@playwright/test';

/**
 * End-to-end tests against a real JupyterLab started by scripts/test-e2e.sh (E2E_URL, E2E_TOKEN, E2E_ROOT),
 * in Debian's Chromium. Browsers are never downloaded.
 */
export default defineConfig({
  testDir: '.',
  testMatch: /.*\.spec\.ts/,
  outputDir: '../../test-results/e2e',
  timeout: 240_000,
  expect: { timeout: 30_000 },
  workers: 1,
  fullyParallel: false,
  // One retry: a test that passes only the second time is reported as flaky in the list, never hidden.
  retries: 1,
  reporter: [['list']],
  use: {
    baseURL: process.env.E2E_URL,
    viewport: { width: 1400, height: 900 },
    actionTimeout: 20_000,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      // --disable-dev-shm-usage: containers often give /dev/shm 64 MB, where Chromium's renderers crash.
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--disable-quic', '--disable-dev-shm-usage'],
    },
  },
});
