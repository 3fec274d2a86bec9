import { configDefaults, defineConfig } from 'vitest/config';

// Two projects: fast deterministic unit tests beside the code, and e2e journeys against the
// real programs of the rig (they run inside a network namespace, see scripts/in-netns.sh).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'scripts/**/*.test.ts'],
          environment: 'node',
          testTimeout: 20_000,
          // One printed fast-check seed per run (FUZZ_SEED replays it); `npm run fuzz` runs longer.
          globalSetup: ['scripts/fuzz/seed.global.ts'],
          setupFiles: ['scripts/fuzz/seed.setup.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['e2e/**/*.test.ts'],
          // Its peer, tailscaled of a tailscale/tailscale branch, is built only with
          // TAILTAB_WEBRTC_PEER=1 (scripts/install.sh): without the knob the file is not run at all
          // (run alone, vitest then finds no test file and fails), with it a missing build fails.
          exclude: [
            ...configDefaults.exclude,
            ...(process.env.TAILTAB_WEBRTC_PEER === '1' ? [] : ['e2e/webrtc-tailscaled.test.ts']),
          ],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          pool: 'forks',
        },
      },
    ],
  },
});
