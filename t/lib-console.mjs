// Loads pages of the pach console in Debian's Chromium (headless, driven
// by playwright-core) and keeps what each showed (t8020):
//   node lib-console.mjs MODULES_DIR BASE_URL OUT_DIR SHOTS_DIR NAME=HASH...
// For each NAME: waits until the page says it is drawn (body[data-ready]),
// and for images until they loaded, then writes OUT_DIR/NAME.html (the
// DOM) and SHOTS_DIR/NAME.png.  Console errors of the page (a script
// error, a refused Content-Security-Policy) go to OUT_DIR/NAME.console.
// Exits non-zero if a page did not finish.
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";

const [modules, base, out, shots, ...pages] = process.argv.slice(2);
const require = createRequire(modules + "/");
const { chromium } = require("playwright-core");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
let failed = 0;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  for (const spec of pages) {
    const eq = spec.indexOf("=");
    const name = spec.slice(0, eq), hash = spec.slice(eq + 1);
    const page = await context.newPage();
    const log = [];
    page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") log.push(m.type() + ": " + m.text()); });
    page.on("pageerror", (e) => log.push("pageerror: " + e.message));
    try {
      await page.goto(base + "/console/#" + hash, { waitUntil: "domcontentloaded", timeout: 30000 });
      await page.waitForSelector("body[data-ready='1']", { timeout: 30000 });
      await page.waitForFunction(() => [...document.images].every((i) => i.complete), null, { timeout: 30000 });
      await page.waitForTimeout(200);   // a provenance panel filled in after the page
      writeFileSync(`${out}/${name}.html`, await page.content());
      await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
    } catch (e) {
      failed++;
      log.push("not drawn: " + e.message);
      try { writeFileSync(`${out}/${name}.html`, await page.content()); } catch (e2) { /* page gone */ }
    }
    writeFileSync(`${out}/${name}.console`, log.join("\n") + (log.length ? "\n" : ""));
    await page.close();
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
