import { serveSite } from './browserTest.js';

/**
 * A small web site on its own port (so the tracker's requests to Beacon are cross-origin and
 * need CORS with credentials), whose pages load beacon.js with the snippet from docs/tracker.md.
 * Every path answers the same page, as a single-page app's server does; `/other` is a second,
 * separate page for full navigations. Pages name an empty icon, so the browser fetches no
 * favicon (whose failure while offline would be logged as an error).
 */
export interface TestSite {
  origin: string;
  /** Where the pages load beacon.js from (Beacon starts after the site: its CORS config names the site's origin). */
  useBeacon(url: string): void;
  close(): Promise<void>;
}

export function snippet(beaconUrl: string): string {
  return `<script>
window.beacon=window.beacon||function(){(beacon.q=beacon.q||[]).push(arguments)};
(function(d,s){s=d.createElement('script');s.async=true;s.src='${beaconUrl}/beacon.js';d.head.appendChild(s)})(document);
</script>`;
}

function page(beaconUrl: string, title: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title><link rel="icon" href="data:,">
${snippet(beaconUrl)}
</head><body>
<h1>${title}</h1>
<button id="buy" onclick="beacon('track','click',{button:'buy'})">Buy</button>
<button id="products" onclick="history.pushState({},'','/products')">Products (client-side route)</button>
<a id="other" href="/other">Another page</a>
</body></html>`;
}

export async function startTestSite(): Promise<TestSite> {
  let beaconUrl = '';
  const site = await serveSite((req, res) => {
    const html = page(beaconUrl, req.url?.startsWith('/other') ? 'Other page' : 'Shop');
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(html);
  });
  return {
    ...site,
    useBeacon: (url) => {
      beaconUrl = url;
    },
  };
}
