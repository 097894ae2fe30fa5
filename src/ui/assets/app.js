// grapevine's window. Everything peers wrote goes into the page with textContent, never as
// markup. No framework, no build step: this file is served as it is.
"use strict";

const $ = (id) => document.getElementById(id);
const views = ["first-run", "unlock", "backup", "timeline", "private", "people", "person", "folders", "lan", "found", "settings"];
let replyTo = null;
let privateReplyTo = null;
let me = null;
/** Names people can be mentioned by (no spaces: an @mention is one word). */
let knownNames = [];
/** What was unread at the last look, to notify of what is new. */
let seen = null;
/** Posts that came in unread while this view was open: the server marks what it shows as read,
 * but the page keeps the mark (and the tab title counts them) until the person moves on. */
const arrived = { posts: new Set(), privately: new Set() };

async function api(method, path, body) {
  const options = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const value = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(value.error || `the window answered ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return value;
}

function notice(text, good = false) {
  const p = $("notice");
  p.textContent = text;
  p.hidden = !text;
  p.classList.toggle("ok", good);
}

/** Says that something worked (the same place, without the look of a problem). */
function tell(text) {
  notice(text, true);
}

function show(section) {
  for (const id of views) $(id).hidden = id !== section;
  for (const link of $("nav").querySelectorAll("a")) {
    if (link.getAttribute("href") === `#${section}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function ago(ms) {
  const seconds = Math.max(0, (Date.now() - ms) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(ms).toLocaleDateString();
}

function name(feed) {
  return feed.name || feed.id.slice(0, 9) + "…";
}

function isMe(feed) {
  return me && feed.id === me.id;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(text, label, onClick) {
  const b = el("button", "", text);
  b.type = "button";
  if (label) b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

function personLink(feed) {
  const a = el("a", "author", name(feed));
  a.href = `#person/${encodeURIComponent(feed.id)}`;
  return a;
}

/** "alice, bob and you": who can read a private message. */
function audience(feeds) {
  const others = feeds.filter((f) => !isMe(f)).map(name);
  return others.length ? `${others.join(", ")} and you` : "only you";
}

/** A post's text as nodes: its #tags and @mentions become links, the rest stays text. */
function richText(post) {
  const p = el("p", "text");
  const byName = new Map(post.mentions.filter((f) => f.name).map((f) => [f.name.toLowerCase(), f]));
  const tags = new Set(post.tags);
  let rest = "";
  for (const part of post.text.split(/([#@][\p{L}\p{N}_-]+)/u)) {
    const word = part.slice(1);
    const tag = part.startsWith("#") && tags.has(word.toLowerCase());
    const mention = part.startsWith("@") && byName.get(word.toLowerCase());
    if (!tag && !mention) {
      rest += part;
      continue;
    }
    if (rest) p.append(rest);
    rest = "";
    const a = el("a", tag ? "tag" : "mention", part);
    a.href = tag ? `#tag/${encodeURIComponent(word.toLowerCase())}` : `#person/${encodeURIComponent(mention.id)}`;
    p.append(a);
  }
  if (rest) p.append(rest);
  return p;
}

function renderPost(post) {
  const item = el("li", post.unread ? "post unread" : "post");
  item.dataset.id = post.id;
  if (post.depth) item.style.marginLeft = `${Math.min(post.depth, 6) * 1.25}rem`;
  const head = el("p", "meta");
  const when = el("a", "when", ago(post.at));
  when.href = `#thread/${encodeURIComponent(post.id)}`;
  when.setAttribute("aria-label", `${ago(post.at)}: the conversation around this post`);
  head.append(personLink(post.author), " · ", when);
  if (post.reply_author) head.append(" · in reply to ", el("span", "", name(post.reply_author)));
  if (post.replies) head.append(` · ${post.replies} ${post.replies === 1 ? "reply" : "replies"}`);
  item.append(head, richText(post));
  if (!post.private) {
    const actions = el("div", "actions");
    actions.append(
      button(`Like (${post.likes})`, `Like (${post.likes}), ${name(post.author)}'s post`, () =>
        act(() => api("POST", "/api/likes", { id: post.id, like: true }))),
      button("Reply", `Reply to ${name(post.author)}`, () => startReply(post)),
    );
    item.append(actions);
  }
  return item;
}

function startReply(post) {
  replyTo = post.id;
  $("replying").textContent = `Replying to ${name(post.author)}: “${post.text.slice(0, 80)}”`;
  $("replying").hidden = false;
  $("cancel-reply").hidden = false;
  $("post-text").focus();
}

function endReply() {
  replyTo = null;
  $("replying").hidden = true;
  $("cancel-reply").hidden = true;
}

async function act(work) {
  try {
    notice("");
    await work();
    await refresh();
  } catch (error) {
    notice(error.message);
  }
}

async function refreshTimeline() {
  const { posts } = await api("GET", "/api/timeline?limit=50");
  for (const p of posts) if (p.unread) arrived.posts.add(p.id);
  $("posts").replaceChildren(...posts.map((p) => renderPost({ ...p, unread: arrived.posts.has(p.id) })));
  $("empty").hidden = posts.length > 0;
  return arrived.posts.size;
}

async function refreshPrivate() {
  const { conversations } = await api("GET", "/api/conversations");
  for (const c of conversations) {
    for (const p of c.posts) if (p.unread) arrived.privately.add(p.id);
    c.posts = c.posts.map((p) => ({ ...p, unread: arrived.privately.has(p.id) }));
    c.unread_posts = c.posts.filter((p) => p.unread).length;
  }
  const list = conversations.map((c) => {
    const box = el("article", "conversation");
    const readers = audience(c.with.concat(me ? [me] : []));
    const title = el("h3", "", c.with.length ? `With ${c.with.map(name).join(", ")}` : "With yourself");
    if (c.unread_posts) title.append(el("span", "unread-count", ` · ${c.unread_posts} unread`));
    const posts = el("ol", "posts");
    posts.append(...c.posts.slice().reverse().map(renderPost));
    const newest = c.posts[0];
    box.append(
      title,
      el("p", "audience", `Only ${readers} can read this conversation.`),
      posts,
      button("Reply in this conversation", `Reply in this conversation with ${readers}`, () => {
        privateReplyTo = newest.id;
        $("to").value = "";
        $("to").disabled = true;
        $("replying-private").textContent = `Replying to the conversation with ${readers}`;
        $("replying-private").hidden = false;
        $("cancel-private-reply").hidden = false;
        $("audience").textContent = `Only ${readers} can read this.`;
        $("private-text").focus();
      }),
    );
    return box;
  });
  $("conversations").replaceChildren(...list);
  $("no-conversations").hidden = conversations.length > 0;
  return arrived.privately.size;
}

async function refreshRequests() {
  const { requests } = await api("GET", "/api/requests");
  $("requests-box").hidden = requests.length === 0;
  $("requests").replaceChildren(...requests.map((r) => {
    const item = el("li", "post unread");
    const head = el("p", "meta");
    head.append(el("span", "author", name(r.author)), " · ", el("time", "when", ago(r.at)));
    const answer = (action) => act(() => api("POST", "/api/requests", { person: r.author.id, action }));
    const actions = el("div", "actions");
    actions.append(
      button("Accept", `Accept ${name(r.author)}'s messages (follow them)`, () => answer("accept")),
      button("Dismiss", `Dismiss ${name(r.author)}'s messages`, () => answer("dismiss")),
    );
    item.append(head, el("p", "text", r.text), actions);
    return item;
  }));
}

async function refreshSettings() {
  const { settings } = await api("GET", "/api/settings");
  for (const s of settings) $(`setting-${s.key}`).value = s.value;
  const devices = await api("GET", "/api/devices");
  const says = {
    linked: "linked both ways: one person",
    waiting: "waiting for that device to link this one",
    offered: "asks to be linked",
    unlinked: "unlinked",
  };
  const change = (device, action) => act(async () => {
    await api("POST", "/api/devices", { device: device.id, action });
    await refreshSettings();
  });
  const items = devices.links.map((l) => {
    const item = el("li");
    item.append(el("span", "author", name(l.device)), ` · ${says[l.state] ?? l.state} `);
    if (l.state === "offered") item.append(button("Link it", `Link ${name(l.device)} as a device of yours`, () => change(l.device, "link")));
    if (l.state === "linked" || l.state === "waiting") item.append(button("Unlink", `Unlink ${name(l.device)}`, () => change(l.device, "unlink")));
    return item;
  });
  const here = el("li");
  here.append(el("span", "author", name(devices.this_device)), ` · this device: ${devices.this_device.id}`);
  $("device-list").replaceChildren(here, ...items);
}

function endPrivateReply() {
  privateReplyTo = null;
  $("to").disabled = false;
  $("replying-private").hidden = true;
  $("cancel-private-reply").hidden = true;
  describeAudience();
}

function describeAudience() {
  const names = $("to").value.split(",").map((s) => s.trim()).filter(Boolean);
  $("audience").textContent = names.length
    ? `Only ${names.join(", ")} and you can read this.`
    : "Write the names of the people it is for.";
}

/** Names known here, for the To field, "Follow someone" and @mention suggestions. */
async function refreshNames() {
  const { people } = await api("GET", "/api/network");
  knownNames = people.filter((p) => p.feed.name && !isMe(p.feed) && p.hops !== null)
    .map((p) => p.feed.name).filter((n) => /^[\p{L}\p{N}_-]+$/u.test(n));
  $("known-names").replaceChildren(
    ...people.filter((p) => p.feed.name && !isMe(p.feed)).map((p) => {
      const option = document.createElement("option");
      option.value = p.feed.name;
      return option;
    }),
  );
  return people;
}

/** The picture `graph` draws, in the page, each person in it a link to their profile. The
 * server escapes every name in it; the page's CSP runs no script or handler it could hold. */
async function drawNetwork() {
  const response = await fetch("/api/network.svg", { credentials: "same-origin" });
  if (!response.ok) throw new Error(`the network picture: the window answered ${response.status}`);
  const parsed = new DOMParser().parseFromString(await response.text(), "image/svg+xml").documentElement;
  if (parsed.nodeName !== "svg") throw new Error("the network picture could not be read");
  // Taken into this document before listeners are added: a copy would not keep them.
  const picture = document.importNode(parsed, true);
  picture.removeAttribute("width");
  picture.removeAttribute("height");
  picture.setAttribute("role", "group");
  picture.setAttribute("aria-label", "Your gossip network");
  for (const node of picture.querySelectorAll("g.feed[data-feed]")) {
    const id = node.getAttribute("data-feed");
    const title = node.querySelector("title")?.textContent ?? id;
    node.setAttribute("role", "link");
    node.setAttribute("tabindex", "0");
    node.setAttribute("aria-label", title);
    const open = () => { location.hash = `person/${encodeURIComponent(id)}`; };
    node.addEventListener("click", open);
    node.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
  }
  $("network-picture").replaceChildren(picture);
}

async function refreshPeople() {
  const people = await refreshNames();
  drawNetwork().catch((e) => notice(e.message));
  const rings = [
    ["You follow", (p) => p.hops === 1],
    ["Friends of friends", (p) => p.hops !== null && p.hops > 1],
    ["Blocked", (p) => p.hops === null],
  ];
  $("rings").replaceChildren(...rings.map(([title, test]) => {
    const members = people.filter(test);
    const block = el("section", "ring");
    block.append(el("h3", "", `${title} (${members.length})`));
    const list = el("ul", "people");
    list.append(...members.map((p) => {
      const item = el("li");
      item.append(personLink(p.feed), el("span", "meta", ` · ${p.messages} messages`));
      return item;
    }));
    block.append(list);
    return block;
  }));
}

/** Patchwork's hint: whether my posts reach them, as far as I know whom they follow. */
function reachBack(who) {
  if (who.hops === 0 || who.messages === 0) return "";
  const them = name(who.feed);
  if (who.blocks_you) return `${them} blocks you: your posts do not reach them`;
  if (who.reaches_them === 1) return `${them} follows you: your posts reach them`;
  if (who.reaches_them) return `${them} follows someone who follows you: your posts reach them through friends`;
  return `${them} follows no one who follows you: your posts may not reach them`;
}

async function showPerson(id) {
  const who = await api("GET", `/api/person?who=${encodeURIComponent(id === "me" ? me.id : id)}`);
  $("person-title").textContent = name(who.feed);
  const facts = [
    ["Calls themselves", who.self_name ?? "(no name published)"],
    ["Your name for them", who.hops === 0 ? "" : who.petname ?? "(none)"],
    ["Says", who.description ?? ""],
    ["Reach", who.blocked_by_you ? "blocked by you: nothing of theirs is shown or carried"
      : who.hops === 0 ? "you"
      : who.hops === 1 ? "followed by you"
      : who.hops ? `${who.hops} steps from you: carried as a friend of a friend`
      : "outside what you carry: follow them to carry their diary"],
    ["Reaches back", reachBack(who)],
    ["Holds", `${who.messages} messages`],
    ["Follows", who.follows.map(name).join(", ") || "no one you know of"],
    ["Followed by", who.followers.map(name).join(", ") || "no one you know of"],
    ["Blocks", who.blocks.map(name).join(", ")],
    ["Devices", who.devices.length ? `also ${who.devices.map(name).join(", ")}: one person` : ""],
    ["Last heard", who.last_heard ? ago(who.last_heard) : ""],
    ["Last post", who.last_post ? ago(who.last_post) : ""],
  ];
  $("person-facts").replaceChildren(...facts.filter(([, v]) => v).flatMap(([k, v]) => [el("dt", "", k), el("dd", "", v)]));
  const change = (what) => act(async () => {
    await api("POST", "/api/contacts", { person: who.feed.id, change: what });
    await showPerson(who.feed.id);
  });
  const actions = [];
  if (who.hops !== 0) {
    actions.push(who.hops === 1
      ? button("Unfollow", `Unfollow ${name(who.feed)}`, () => change("unfollow"))
      : button("Follow", `Follow ${name(who.feed)}`, () => change("follow")));
    actions.push(who.blocked_by_you
      ? button("Unblock", `Unblock ${name(who.feed)}`, () => change("unblock"))
      : button("Block", `Block ${name(who.feed)}`, () => change("block")));
  }
  $("person-actions").replaceChildren(...actions);
  $("petname").hidden = who.hops === 0;
  $("profile").hidden = who.hops !== 0;
  if (who.hops === 0) {
    $("my-name").value = who.self_name ?? "";
    $("my-description").value = who.description ?? "";
  }
  $("petname-text").value = who.petname ?? "";
  $("petname").dataset.person = who.feed.id;
  show("person");
  // Your own profile is a view of its own in the menu.
  const mine = $("my-profile");
  if (who.hops === 0) mine.setAttribute("aria-current", "page");
  else mine.removeAttribute("aria-current");
}

async function refreshFolders() {
  const state = await api("GET", "/api/folders");
  const kept = state.folders.map((f) => ({ path: f, what: "folder" }))
    .concat(state.media.map((m) => ({ path: m, what: "sticks" })));
  $("folders-none").hidden = kept.length > 0;
  $("folders-elsewhere").hidden = !state.elsewhere;
  $("folders-elsewhere").textContent = state.elsewhere
    ? `Another grapevine keeps these folders in sync on this computer: ${state.elsewhere}` : "";
  const within = (e, path) => [e.file, e.folder, e.mount, e.path].some((p) => p && (p === path || p.startsWith(`${path}/`)));
  // What the latest round in a folder did: its newest merges and the bundle we left.
  const lastRound = (path) => {
    const mine = state.events.filter((e) => within(e, path));
    if (!mine.length) return "not synced yet";
    const last = mine.at(-1);
    const merged = mine.filter((e) => e.event === "merged" && e.at >= last.at - 5000);
    const wrote = mine.filter((e) => e.event === "wrote").at(-1);
    const parts = [`last synced ${ago(last.at)}`];
    const brought = merged.reduce((n, e) => n + e.new, 0);
    if (merged.length) parts.push(`brought ${brought} new message${brought === 1 ? "" : "s"}`);
    if (wrote && wrote.at >= last.at - 5000) parts.push(`left ${wrote.messages} message${wrote.messages === 1 ? "" : "s"} from ${wrote.feeds} ${wrote.feeds === 1 ? "diary" : "diaries"}`);
    return parts.join(", ");
  };
  const plugged = new Map();
  for (const e of state.events) {
    if (e.event === "mounted") plugged.set(e.mount, "syncing…");
    else if (e.event === "unplug") plugged.set(e.mount, "safe to unplug");
    else if (e.event === "unplugged") plugged.delete(e.mount);
  }
  $("folder-list").replaceChildren(...kept.map((k) => {
    const item = el("li");
    if (k.what === "folder") {
      item.append(el("span", "author", k.path), el("span", "meta", ` · ${lastRound(k.path)} `),
        button("Sync now", `Sync now: ${k.path}`, () => act(async () => {
          const done = await api("POST", "/api/sync", { folder: k.path });
          if (done.error) notice(done.error);
          else tell(`Synced ${k.path}: ${done.new} new messages${done.wrote ? ", your bundle left there" : ""}.`);
        })));
    } else {
      item.append(el("span", "", `Sticks plugged in under ${k.path}`));
      const sticks = el("ul", "people");
      sticks.append(...[...plugged].filter(([m]) => m.startsWith(`${k.path}/`)).map(([m, state]) => {
        const stick = el("li");
        const folder = `${m}/grapevine`;
        stick.append(el("span", "author", m), el("span", "meta", ` · ${state} · ${lastRound(m)} `),
          button("Sync now", `Sync now: the stick ${m}`, () => act(async () => {
            const done = await api("POST", "/api/sync", { folder });
            if (done.error) notice(done.error);
            else tell(`Synced the stick ${m}: ${done.new} new messages.`);
          })));
        return stick;
      }));
      item.append(sticks);
    }
    return item;
  }));
  $("folder-events").replaceChildren(...state.events.slice(-30).reverse()
    .map((e) => el("li", `event ${e.event}`, `${new Date(e.at).toLocaleTimeString()} · ${e.says}`)));
}

function heard(event) {
  const stick = $("stick");
  if (event.event === "mounted") {
    stick.textContent = `Syncing the stick ${event.mount}: keep it plugged in…`;
    stick.hidden = false;
  } else if (event.event === "unplug") {
    stick.textContent = `Safe to unplug ${event.mount}`;
    stick.hidden = false;
  } else if (event.event === "unplugged") {
    stick.hidden = true;
  }
  if (!$("folders").hidden) refreshFolders().catch((e) => notice(e.message));
  if (!$("lan").hidden) refreshLan().catch((e) => notice(e.message));
}

async function refresh() {
  const posts = await refreshTimeline();
  const privately = me ? await refreshPrivate() : 0;
  if (me) await refreshRequests();
  const unread = posts + privately;
  document.title = unread ? `(${unread}) grapevine` : "grapevine";
  if (!$("people").hidden) await refreshPeople();
  else await refreshNames();
  if (!$("lan").hidden) await refreshLan();
  await notify(privately);
}

/** A browser notification for new private messages and mentions, once the person allowed it. */
async function notify(privately) {
  // Nothing to look up until the person allowed notifications; the first look then sets what
  // counts as known.
  if (!("Notification" in window) || Notification.permission !== "granted") {
    seen = null;
    return;
  }
  // Mentions by id: showing the timeline marks them read, so an unread count would miss them.
  const { posts } = await api("GET", "/api/posts?mentions=me");
  const mentions = new Set(posts.map((p) => p.id));
  const before = seen;
  seen = { privately, mentions };
  if (!before) return;
  const fresh = [...mentions].filter((id) => !before.mentions.has(id)).length;
  const news = [];
  const count = (n, what) => `${n} new ${what}${n === 1 ? "" : "s"}`;
  if (privately > before.privately) news.push(count(privately - before.privately, "private message"));
  if (fresh) news.push(count(fresh, "mention"));
  if (news.length) new Notification("grapevine", { body: news.join(" and "), tag: "grapevine" });
}

async function refreshLan() {
  const lan = await api("GET", "/api/lan");
  $("lan-state").textContent = lan.elsewhere
    ? `The window does not serve the local network: ${lan.elsewhere}`
    : !lan.serving ? "The window does not serve the local network (it was started with --no-serve)."
    : lan.listening ? `Friends nearby can sync with this computer at ${lan.listening}${lan.discovery ? "; it also finds them by itself" : ""}.`
    : "Starting…";
  $("pub-list").replaceChildren(...lan.pubs.map((address) => {
    const item = el("li");
    item.append(el("span", "", address), " ",
      button("Remove", `Remove the pub ${address}`, () => act(async () => {
        await api("POST", "/api/pubs", { address, action: "remove" });
        await refreshLan();
      })));
    return item;
  }));
  if (!lan.pubs.length) $("pub-list").replaceChildren(el("li", "empty", "No pubs yet."));
  $("lan-events").replaceChildren(...lan.events.slice(-30).reverse()
    .map((e) => el("li", `event ${e.event}`, `${new Date(e.at).toLocaleTimeString()} · ${e.says}`)));
}

async function showFound(title, path) {
  const { posts } = await api("GET", path);
  $("found-title").textContent = title;
  $("found-posts").replaceChildren(...posts.map(renderPost));
  $("found-none").hidden = posts.length > 0;
  show("found");
}

function route() {
  // Moving on is looking: what arrived while the last view was open counts as seen.
  arrived.posts.clear();
  arrived.privately.clear();
  const hash = decodeURIComponent(location.hash.slice(1));
  const found = (title, path) => showFound(title, path).catch((e) => notice(e.message));
  if (hash.startsWith("person/")) {
    showPerson(hash.slice(7)).catch((e) => notice(e.message));
    return;
  }
  if (hash.startsWith("thread/")) return found("Conversation", `/api/thread?id=${encodeURIComponent(hash.slice(7))}`);
  if (hash.startsWith("tag/")) return found(`Posts tagged #${hash.slice(4)}`, `/api/posts?tag=${encodeURIComponent(hash.slice(4))}`);
  if (hash.startsWith("search/")) return found(`Posts with “${hash.slice(7)}”`, `/api/posts?search=${encodeURIComponent(hash.slice(7))}`);
  if (hash === "mentions") return found("Posts that mention you", "/api/posts?mentions=me");
  const view = ["private", "people", "folders", "lan", "settings"].includes(hash) ? hash : "timeline";
  show(view);
  if (view === "folders") refreshFolders().catch((e) => notice(e.message));
  else if (view === "lan") refreshLan().catch((e) => notice(e.message));
  else if (view === "settings") refreshSettings().catch((e) => notice(e.message));
  else if (view !== "timeline") refreshPeople().catch((e) => notice(e.message));
}

function listen() {
  const events = new EventSource("/api/events");
  events.addEventListener("changed", () => refresh().catch((e) => notice(e.message)));
  events.addEventListener("ready", () => { document.body.dataset.live = "yes"; });
  events.addEventListener("event", (message) => heard(JSON.parse(message.data)));
}

async function enter(who) {
  me = who;
  $("me").textContent = `You are ${name(who)}`;
  $("nav").hidden = false;
  $("search").hidden = false;
  window.addEventListener("hashchange", route);
  route();
  describeAudience();
  await refresh();
  listen();
}

async function start() {
  const fragment = location.hash.slice(1);
  if (/^[0-9a-f]{64}$/.test(fragment)) {
    history.replaceState(null, "", "/");
    try {
      await api("POST", "/api/session", { secret: fragment });
    } catch (error) {
      notice(error.message);
      return;
    }
  }
  let state;
  try {
    state = await api("GET", "/api/state");
  } catch (error) {
    notice(error.message);
    return;
  }
  if (state.me) {
    await enter(state.me);
  } else if (state.locked) {
    show("unlock");
    $("passphrase").focus();
  } else {
    show("first-run");
    $("name").focus();
  }
}

$("create").addEventListener("submit", (event) => {
  event.preventDefault();
  act(async () => {
    const created = await api("POST", "/api/init", { name: $("name").value });
    $("words").replaceChildren(...created.words.map((w) => el("li", "", w)));
    show("backup");
    $("wrote-them").onclick = () => enter(created.me).catch((e) => notice(e.message));
  });
});

$("restore").addEventListener("submit", (event) => {
  event.preventDefault();
  act(async () => {
    const restored = await api("POST", "/api/restore", { words: $("words-typed").value });
    $("words-typed").value = "";
    await enter(restored.me);
    tell("Your key is back. Your diary comes back with the next bundle from a friend who "
      + "follows you: sync a stick or shared folder you both use. Until then nothing is written.");
  });
});

$("compose").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("post-text").value;
  act(async () => {
    await api("POST", "/api/posts", replyTo ? { text, reply: replyTo } : { text });
    $("post-text").value = "";
    endReply();
  });
});

$("write-private").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("private-text").value;
  const to = $("to").value.split(",").map((s) => s.trim()).filter(Boolean);
  act(async () => {
    const sent = await api("POST", "/api/private", privateReplyTo ? { text, reply: privateReplyTo } : { text, to });
    $("private-text").value = "";
    $("to").value = "";
    endPrivateReply();
    $("audience").textContent = `Sent. Only ${audience(sent.recipients || [])} can read it.`;
  });
});

$("follow").addEventListener("submit", (event) => {
  event.preventDefault();
  const person = $("follow-name").value;
  act(async () => {
    const done = await api("POST", "/api/contacts", { person, change: "follow" });
    $("follow-name").value = "";
    tell(`Now following ${name(done.contact)}.`);
    await refreshPeople();
  });
});

$("profile").addEventListener("submit", (event) => {
  event.preventDefault();
  act(async () => {
    const who = await api("POST", "/api/about", {
      name: $("my-name").value,
      description: $("my-description").value.trim() || undefined,
    });
    me = who.feed;
    $("me").textContent = `You are ${name(me)}`;
    tell("Your profile is saved: it travels with your diary.");
    await showPerson(me.id);
  });
});

$("petname").addEventListener("submit", (event) => {
  event.preventDefault();
  const person = $("petname").dataset.person;
  const value = $("petname-text").value.trim();
  act(async () => {
    await api("POST", "/api/petname", { person, name: value || null });
    await showPerson(person);
  });
});

$("import").addEventListener("submit", (event) => {
  event.preventDefault();
  const file = $("bundle-file").files[0];
  if (!file) return;
  act(async () => {
    const response = await fetch("/api/import", { method: "POST", body: file, credentials: "same-origin" });
    const done = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(done.error || `the window answered ${response.status}`);
    const problems = done.bundles.flatMap((b) => b.problems).concat(done.unreadable.map((u) => u.error));
    (problems.length ? notice : tell)(`${file.name}: ${done.new} new messages, ${done.already_held} already held, `
      + `${done.not_wanted} of people you do not follow`
      + (problems.length ? `. Problems: ${problems.join("; ")}` : "."));
    $("bundle-file").value = "";
  });
});

$("link-device").addEventListener("submit", (event) => {
  event.preventDefault();
  const device = $("device-id").value.trim();
  act(async () => {
    await api("POST", "/api/devices", { device, action: "link" });
    $("device-id").value = "";
    tell("Linked from this side: link this device from the other one too.");
    await refreshSettings();
  });
});

$("settings-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act(async () => {
    for (const key of ["hops", "forget-after-days", "folder-stale-days", "network"]) {
      await api("POST", "/api/settings", { key, value: $(`setting-${key}`).value });
    }
    await refreshSettings();
    tell("Settings saved.");
  });
});

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  location.hash = `search/${encodeURIComponent($("search-words").value.trim())}`;
});

$("unlock-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act(async () => {
    const opened = await api("POST", "/api/unlock", { passphrase: $("passphrase").value });
    $("passphrase").value = "";
    await enter(opened.me);
  });
});

$("download").addEventListener("submit", (event) => {
  event.preventDefault();
  const people = $("download-for").value.split(",").map((s) => s.trim()).filter(Boolean);
  const seal = $("download-seal").checked;
  act(async () => {
    const response = await fetch("/api/bundle", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ for: people, seal }),
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      throw new Error(problem.error || `the window answered ${response.status}`);
    }
    const file = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/)?.[1] || "grapevine.gvb";
    const link = el("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = file;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    tell(`${file} is ready in your downloads${people.length ? ` for ${people.join(", ")}` : ""}.`);
  });
});

$("sync-with").addEventListener("submit", (event) => {
  event.preventDefault();
  const address = $("peer-address").value.trim();
  act(async () => {
    tell(`Syncing with ${address}…`);
    const done = await api("POST", "/api/lan/sync", { address });
    tell(`Synced with ${done.peer ? name(done.peer) : address}: ${done.received} new messages, ${done.sent} sent.`);
  });
});

$("add-pub").addEventListener("submit", (event) => {
  event.preventDefault();
  const address = $("pub-address").value.trim();
  act(async () => {
    await api("POST", "/api/pubs", { address, action: "add" });
    $("pub-address").value = "";
    await refreshLan();
  });
});

$("allow-notifications").addEventListener("click", async () => {
  if (!("Notification" in window)) return notice("This browser cannot show notifications.");
  const answer = await Notification.requestPermission();
  if (answer === "granted") tell("You will be told of new private messages and mentions while this page is open.");
  else notice("Notifications are off: the browser was not allowed to show them.");
});

mentions($("post-text"), $("mention-list"));

/** @name suggestions for a text box: type @ and a few letters; arrows, Enter or a click pick. */
function mentions(box, list) {
  let choices = [];
  let chosen = 0;
  const word = () => box.value.slice(0, box.selectionStart).match(/@([\p{L}\p{N}_-]*)$/u);
  const close = () => { list.hidden = true; choices = []; box.removeAttribute("aria-activedescendant"); };
  const pick = (name) => {
    const at = word();
    if (!at) return close();
    const start = box.selectionStart - at[0].length;
    box.value = `${box.value.slice(0, start)}@${name} ${box.value.slice(box.selectionStart)}`;
    box.selectionStart = box.selectionEnd = start + name.length + 2;
    close();
    box.focus();
  };
  const draw = () => {
    list.replaceChildren(...choices.map((n, i) => {
      const item = el("li", "", `@${n}`);
      item.id = `mention-${i}`;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", String(i === chosen));
      item.addEventListener("mousedown", (e) => { e.preventDefault(); pick(n); });
      return item;
    }));
    list.hidden = choices.length === 0;
    if (choices.length) box.setAttribute("aria-activedescendant", `mention-${chosen}`);
  };
  box.addEventListener("input", () => {
    const at = word();
    if (!at) return close();
    const start = at[1].toLowerCase();
    choices = knownNames.filter((n) => n.toLowerCase().startsWith(start)).slice(0, 6);
    chosen = 0;
    draw();
  });
  box.addEventListener("keydown", (e) => {
    if (list.hidden) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      chosen = (chosen + (e.key === "ArrowDown" ? 1 : choices.length - 1)) % choices.length;
      draw();
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      pick(choices[chosen]);
    } else if (e.key === "Escape") {
      close();
    }
  });
  box.addEventListener("blur", close);
}

$("to").addEventListener("input", describeAudience);
$("cancel-reply").addEventListener("click", endReply);
$("cancel-private-reply").addEventListener("click", endPrivateReply);

start();
