import { defineConfig } from '@playwright/test';

/** The in-browser benchmark (bench/lab.sh starts JupyterLab and sets BENCH_*). Debian's Chromium, never a download. */
export default defineConfig({
  testDir: '.',
  testMatch: /lab\.bench\.ts/,
  outputDir: '../test-results/bench',
  timeout: 300_000,
  expect: { timeout: 60_000 },
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: process.env.BENCH_URL,
    viewport: { width: 1400, height: 900 },
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--disable-quic', '--disable-dev-shm-usage'],
    },
  },
});
