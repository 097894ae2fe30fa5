// grapevine's window. Everything peers wrote goes into the page with textContent, never as
// markup. No framework, no build step: this file is served as it is.
"use strict";

const $ = (id) => document.getElementById(id);
let replyTo = null;

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

function notice(text) {
  const p = $("notice");
  p.textContent = text;
  p.hidden = !text;
}

function show(section) {
  for (const id of ["first-run", "backup", "timeline"]) {
    $(id).hidden = id !== section;
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

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderPost(post) {
  const item = el("li", post.unread ? "post unread" : "post");
  item.dataset.id = post.id;
  const head = el("p", "meta");
  head.append(el("span", "author", name(post.author)), " · ", el("time", "when", ago(post.at)));
  if (post.reply_author) head.append(" · in reply to ", el("span", "", name(post.reply_author)));
  item.append(head, el("p", "text", post.text));
  const actions = el("div", "actions");
  const like = el("button", "like", `Like (${post.likes})`);
  like.type = "button";
  like.setAttribute("aria-label", `Like ${name(post.author)}'s post (${post.likes} likes)`);
  like.addEventListener("click", () => act(() => api("POST", "/api/likes", { id: post.id, like: true })));
  const reply = el("button", "reply", "Reply");
  reply.type = "button";
  reply.setAttribute("aria-label", `Reply to ${name(post.author)}`);
  reply.addEventListener("click", () => startReply(post));
  actions.append(like, reply);
  item.append(actions);
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
    await work();
    notice("");
    await refresh();
  } catch (error) {
    notice(error.message);
  }
}

async function refresh() {
  const { posts } = await api("GET", "/api/timeline?limit=50");
  const list = $("posts");
  list.replaceChildren(...posts.map(renderPost));
  $("empty").hidden = posts.length > 0;
  const unread = posts.filter((p) => p.unread).length;
  document.title = unread ? `(${unread}) grapevine` : "grapevine";
}

function listen() {
  const events = new EventSource("/api/events");
  events.addEventListener("changed", () => refresh().catch((e) => notice(e.message)));
  events.addEventListener("ready", () => document.body.dataset.live = "yes");
}

async function enter(me) {
  $("me").textContent = `You are ${name(me)}`;
  show("timeline");
  await refresh();
  listen();
}

async function start() {
  const secret = location.hash.slice(1);
  if (secret) {
    history.replaceState(null, "", "/");
    try {
      await api("POST", "/api/session", { secret });
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

$("compose").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("post-text").value;
  act(async () => {
    await api("POST", "/api/posts", replyTo ? { text, reply: replyTo } : { text });
    $("post-text").value = "";
    endReply();
  });
});

$("cancel-reply").addEventListener("click", endReply);

start();
