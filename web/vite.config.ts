/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import tailwindcss from '@tailwindcss/vite';
import { fileURLToPath } from 'node:url';

// The dashboard is served by the `parley` binary under /app/ (same origin as the API), so the
// dev server proxies the API paths to a running `parley serve` (PARLEY_URL, default :8080).
const api = process.env.PARLEY_URL ?? 'http://127.0.0.1:8080';
const apiPaths = [
  '/auth', '/user', '/team', '/contact', '/interview', '/interview_response', '/call', '/automation',
  '/automation_run', '/phone_number', '/sip_trunk', '/webhooks', '/job', '/sandbox',
];

export default defineConfig({
  base: '/app/',
  plugins: [react(), tailwindcss()],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, assetsInlineLimit: 0 },
  server: { proxy: Object.fromEntries(apiPaths.map((p) => [p, { target: api, changeOrigin: false }])) },
  test: { include: ['src/**/*.test.ts', 'src/**/*.test.tsx'], environment: 'node' },
});
