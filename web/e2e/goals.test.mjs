// Goals in a real browser against the running stack: a page goal and an event goal completed on the
// demo site reach an open dashboard (feed through the WebSocket, goals panel), and the realtime API
// lists each goal entry once, next to the event that caused it.
//
// The demo site needs two goals, as infra/local/browser-test.sh and `make dev` define them: one on the
// page view of {base}/demo/pricing.html and one on the sign-up button's `signup_click` event. Their
// names are learnt from the goal entries, so they may be called anything.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  artifactPath,
  BASE_PATH,
  dashboardUrl,
  feedRow,
  realtime,
  SKIP,
  sleep,
  storedCount,
  useBrowser,
  visitDemo,
  waitFor,
  waitForStatus,
} from './lib.mjs';

const GOAL_PAGE = 'pricing.html';
// 30 minutes: conversions made earlier in the run stay in the window, so the counts only grow.
const MINUTES = 30;

/** The goal entry pushed right after the event `id` (pushes carry an event, then its goals). */
function pushedGoalOf(pushed, id) {
  const i = pushed.findIndex((e) => e.id === id);
  const next = i >= 0 ? pushed[i + 1] : null;
  return next?.type === 'goal' && next.id.startsWith(`${id}:`) ? next : null;
}

const conversionsByGoal = (view) => new Map((view.goals ?? []).map((g) => [g.goal, g.conversions]));

describe('goals', () => {
  const browser = useBrowser();

  test('a page goal and an event goal reach the open dashboard live, and are listed once each', { skip: SKIP, timeout: 90_000 }, async () => {
    await browser.withContext(async (context) => {
      const dash = await context.newPage();
      const pageErrors = [];
      dash.on('pageerror', (error) => pageErrors.push(error.message));
      const pushed = []; // feed entries received over the WebSocket, in order
      dash.on('websocket', (ws) =>
        ws.on('framereceived', (frame) => {
          try {
            const message = JSON.parse(String(frame.payload));
            if (message.type === 'events') pushed.push(...message.events);
          } catch {
            /* not a message of ours */
          }
        }),
      );
      await dash.goto(dashboardUrl({ minutes: MINUTES }));
      await waitForStatus(dash, 'live', 10_000);
      const before = conversionsByGoal(await realtime({ minutes: MINUTES }));

      // The page goal by visiting the page, the event goal with the page's sign-up button.
      const demo = await visitDemo(context, GOAL_PAGE);
      const view = demo.hit;
      const clicked = Date.now();
      await demo.page.click('[data-testid=signup]');
      const click = await waitFor(() => demo.hits.find((h) => h.e === 'event'), { message: 'the sign-up event' });
      assert.equal(click.p.name, 'signup_click');
      await dash.bringToFront(); // a background tab gets few animation frames: slow screenshots
      const pageGoal = await waitFor(() => pushedGoalOf(pushed, view.id), {
        timeout: 5000,
        message: `a goal entry pushed after the page view of ${BASE_PATH}/demo/${GOAL_PAGE} (is a goal defined on that path?)`,
      });
      const eventGoal = await waitFor(() => pushedGoalOf(pushed, click.id), {
        timeout: 5000,
        message: 'a goal entry pushed after the signup_click event (is a goal defined on that event?)',
      });
      const pushedEvent = (id) => pushed.find((e) => e.id === id);
      assert.deepEqual(pageGoal, {
        type: 'goal',
        id: `${view.id}:${pageGoal.goal}`,
        goal: pageGoal.goal,
        path: `${BASE_PATH}/demo/${GOAL_PAGE}`,
        ...('value' in pageGoal ? { value: pageGoal.value } : {}),
        timestamp: pushedEvent(view.id).timestamp,
        ...('country' in pageGoal ? { country: pageGoal.country } : {}),
        device: 'desktop',
      });
      assert.deepEqual(eventGoal, {
        type: 'goal',
        id: `${click.id}:${eventGoal.goal}`,
        goal: eventGoal.goal,
        name: 'signup_click',
        value: click.p.value, // the event's own value wins over the goal's
        timestamp: pushedEvent(click.id).timestamp,
        ...('country' in eventGoal ? { country: eventGoal.country } : {}),
        device: 'desktop',
      });
      assert.notEqual(pageGoal.goal, eventGoal.goal, 'two different goals');

      // The feed shows both, each once and just above its event.
      await feedRow(dash, pageGoal.id).waitFor({ timeout: 5000 });
      await feedRow(dash, eventGoal.id).waitFor({ timeout: 5000 });
      console.log(`goals: the event goal's feed entry shown ${Date.now() - clicked} ms after the click`);
      const pageRow = await feedRow(dash, pageGoal.id).textContent();
      assert.ok(pageRow.includes(`Goal completed: ${pageGoal.goal}`), pageRow);
      assert.ok(pageRow.includes(`on ${BASE_PATH}/demo/${GOAL_PAGE}`), pageRow);
      const eventRow = await feedRow(dash, eventGoal.id).textContent();
      assert.ok(eventRow.includes(`Goal completed: ${eventGoal.goal} (${click.p.value})`), eventRow);
      assert.ok(eventRow.includes('event signup_click'), eventRow);

      // The goals panel, from the refresh that follows the pushes.
      const panel = dash.locator('[data-testid=goals]');
      const panelRow = (goal) => panel.locator(`tr[data-goal="${goal}"]`);
      for (const goal of [pageGoal.goal, eventGoal.goal]) {
        const least = (before.get(goal) ?? 0) + 1;
        // Within the live refresh period at worst: the rollups trail the raw events.
        await waitFor(async () => Number(await panelRow(goal).getAttribute('data-conversions', { timeout: 500 })) >= least, {
          timeout: 20_000,
          message: `goal "${goal}" in the goals panel with at least ${least} conversions`,
        });
      }
      // By now a poll has brought the same entries again: still one row each.
      const order = await dash.locator('[data-testid=feed] li').evaluateAll((rows) => rows.map((li) => li.dataset.id));
      for (const [event, goal] of [[view.id, pageGoal.id], [click.id, eventGoal.id]]) {
        assert.equal(order.filter((id) => id === goal).length, 1, `${goal} shown once`);
        assert.equal(order.indexOf(goal) + 1, order.indexOf(event), `${goal} just above its event`);
      }

      // The panel: conversions, converting visitors, value (the event goal has one) and a rate.
      assert.equal(await panelRow(eventGoal.goal).locator('td.value').isVisible(), true, 'a value column: a goal has a value');
      for (const goal of [pageGoal.goal, eventGoal.goal]) {
        const row = panelRow(goal);
        assert.ok(Number(await row.getAttribute('data-visitors')) >= 1);
        const rate = Number(await row.getAttribute('data-rate'));
        assert.ok(rate > 0 && rate <= 1, `rate ${rate}`);
        assert.match(await row.locator('td.rate').textContent(), /^(<)?\d+(\.\d)?\s?%$/);
        assert.match(await row.locator('td.conversions').textContent(), /^[1-9]/);
      }
      assert.match(await panelRow(eventGoal.goal).locator('td.value').textContent(), /^[1-9]/);

      // The realtime API: each causing event once, its goal entry once, just above it, as pushed.
      const api = await realtime({ minutes: MINUTES });
      for (const [event, goal] of [[view.id, pageGoal], [click.id, eventGoal]]) {
        assert.equal(await storedCount(event), 1, `event ${event} stored once`);
        const ids = api.recentEvents.map((e) => e.id);
        assert.equal(ids.filter((id) => id === goal.id).length, 1, `${goal.id} listed once`);
        assert.equal(ids.indexOf(goal.id) + 1, ids.indexOf(event), `${goal.id} just above its event`);
        assert.deepEqual(api.recentEvents[ids.indexOf(goal.id)], goal, 'polled and pushed entries are the same');
        const summary = api.goals.find((g) => g.goal === goal.goal);
        assert.ok(summary.conversions >= (before.get(goal.goal) ?? 0) + 1, JSON.stringify(summary));
        assert.ok(summary.visitors >= 1 && summary.conversionRate > 0, JSON.stringify(summary));
      }
      assert.ok(api.goals.find((g) => g.goal === eventGoal.goal).value >= click.p.value);
      assert.equal(pushed.filter((e) => e.id === pageGoal.id).length, 1, 'pushed once');
      assert.equal(pushed.filter((e) => e.id === eventGoal.id).length, 1, 'pushed once');

      await sleep(1000); // the conversion flash and the counters' count-up
      const wide = artifactPath('dashboard-goals.png');
      await dash.screenshot({ path: wide, fullPage: true });
      console.log('dashboard screenshot (goals): ' + wide);

      // 320 px: nothing scrolls sideways.
      await dash.setViewportSize({ width: 320, height: 800 });
      await sleep(300);
      const overflow = await dash.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `no horizontal scrolling at 320 px (overflow ${overflow} px)`);
      const display = await panelRow(pageGoal.goal).locator('td.rate').evaluate((td) => getComputedStyle(td).display);
      assert.equal(display, 'block', 'the compact layout: figures under the name, each with its label');
      const narrow = artifactPath('dashboard-goals-320.png');
      await panel.screenshot({ path: narrow });
      console.log('goals panel screenshot (320 px): ' + narrow);

      await dash.setViewportSize({ width: 1280, height: 900 });
      await dash.emulateMedia({ colorScheme: 'dark' });
      await sleep(300);
      const dark = artifactPath('dashboard-goals-dark.png');
      await panel.screenshot({ path: dark });
      console.log('goals panel screenshot (dark): ' + dark);
      assert.deepEqual(pageErrors, []);
    });
  });

  test('without conversions the goals panel says so, and how goals are defined', { skip: SKIP, timeout: 60_000 }, async () => {
    await browser.withContext(async (context) => {
      // The demo site has conversions by now: answer the dashboard as if it had none.
      await context.route(/\/sites\/[^/]+\/realtime\?/, async (route) => {
        const response = await route.fetch();
        route.fulfill({ response, json: { ...(await response.json()), goals: [] } });
      });
      const dash = await context.newPage();
      await dash.goto(dashboardUrl());
      const panel = dash.locator('[data-testid=goals]');
      await waitFor(async () => (await panel.locator('.empty p').textContent()) === 'No goals completed in this window.', {
        message: 'the empty goals panel',
      });
      assert.equal(await panel.getAttribute('data-count'), '0');
      assert.equal(await panel.locator('table').isVisible(), false);
      const hint = panel.locator('[slot=hint]');
      assert.equal(await hint.isVisible(), true);
      assert.match(await hint.textContent(), /pulse-admin goal add/);
    });
  });
});
