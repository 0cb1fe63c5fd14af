// Debian's Chromium for the tests that look at a page (the report, the dashboard, compare): where
// it lives and the flags it needs here — without the background-networking ones it keeps trying
// hosts this machine's closed network refuses.
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
