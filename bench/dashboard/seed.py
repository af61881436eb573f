#!/usr/bin/env python3
"""Seeding for bench/dashboard.sh (standard library only).

  seed.py setup    --url U --log SERVER_LOG --out STATE.json --calls N
      Reads the first start's team id and API token from the server log; creates the bench agent
      (start -> yes/no question -> end), a contact per sandbox number it calls, a 300-node agent
      (a chain of speak/question nodes) for the editor's drag, places N real sandbox calls
      (+1212555010{0..4}: the built-in personas that answer yes / no, never answer, are busy,
      reach voicemail) and waits until every call has ended. Writes the ids to STATE.json.
  seed.py contacts --state STATE.json --url U --n 100000
      POST /contact/bulk_create, 1000 rows a request (ordinary US numbers, +1 212 2xx xxxx and
      +1 415 2xx xxxx, never the sandbox's 555-01xx), two requests in flight.
  seed.py clone    --state STATE.json --db parley.db --n 100000
      With the server stopped: clones the team's real call rows (and their call_events) N times,
      with new time-ordered ids, created/updated spread over the last 90 days, each on a random
      contact of the team, every column kept consistent with the body (see README).
"""
import argparse
import concurrent.futures as cf
import json
import os
import random
import re
import sqlite3
import sys
import time
import urllib.error
import urllib.request
import uuid

SANDBOX = ["+12125550100", "+12125550101", "+12125550102", "+12125550103", "+12125550104"]
FINAL = {"ENDED", "FAILED", "NO_ANSWER", "BUSY", "VOICEMAIL", "TRANSFERRED", "CANCELLED", "CANCELED"}


def api(url, token, team, method, path, body=None, timeout=120):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url + path,
        data=data,
        method=method,
        headers={"x-api-token": token, "team_id": team, **({"content-type": "application/json"} if data else {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.load(r)["data"]
    except urllib.error.HTTPError as e:
        sys.exit(f"seed: {method} {path} answered {e.code}: {e.read()[:500]!r}")


def from_log(log):
    text = open(log, encoding="utf-8", errors="replace").read()
    team = re.search(r"^\s*team_id:\s*(\S+)", text, re.M)
    token = re.search(r"^\s*api_token:\s*(\S+)", text, re.M)
    if not (team and token):
        sys.exit(f"seed: no team_id/api_token in {log}")
    return team.group(1), token.group(1)


def small_flow():
    return {
        "nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
            {"id": "q", "type": "question", "position": {"x": 0, "y": 170},
             "data": {"question": "Can you make it on Thursday?", "variable": "confirmed", "kind": "yes_no"}},
            {"id": "yes", "type": "end", "position": {"x": -150, "y": 340},
             "data": {"outcome": "confirmed", "message": "Great, see you Thursday. Goodbye."}},
            {"id": "no", "type": "end", "position": {"x": 150, "y": 340},
             "data": {"outcome": "declined", "message": "No problem, goodbye."}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "sourceHandle": "next", "target": "q"},
            {"id": "e2", "source": "q", "sourceHandle": "yes", "target": "yes"},
            {"id": "e3", "source": "q", "sourceHandle": "no", "target": "no"},
        ],
    }


def big_flow(n=300, cols=15):
    """start, then n-2 alternating speak/question nodes in a chain, then end; laid out as a
    snake on a grid of `cols` columns (250 x 170 px cells), as an editor would keep it."""
    ids = ["start"] + [f"n{i}" for i in range(1, n - 1)] + ["end"]
    nodes = []
    for i, nid in enumerate(ids):
        row, col = divmod(i, cols)
        if row % 2:
            col = cols - 1 - col
        pos = {"x": col * 250, "y": row * 170}
        if nid == "start":
            nodes.append({"id": nid, "type": "start", "position": pos, "data": {}})
        elif nid == "end":
            nodes.append({"id": nid, "type": "end", "position": pos, "data": {"outcome": "completed", "message": "Thank you, goodbye."}})
        elif i % 2:
            nodes.append({"id": nid, "type": "speak", "position": pos, "data": {"message": f"Step {i}: here is something to say, {{{{contact.name}}}}."}})
        else:
            nodes.append({"id": nid, "type": "question", "position": pos,
                          "data": {"question": f"Question {i}: what do you think?", "variable": f"v{i}", "kind": "text"}})
    edges = [{"id": f"e{i}", "source": a, "sourceHandle": "next", "target": b} for i, (a, b) in enumerate(zip(ids, ids[1:]))]
    return {"nodes": nodes, "edges": edges}


def setup(a):
    team, token = from_log(a.log)
    call = lambda *x, **k: api(a.url, token, team, *x, **k)
    agent = call("POST", "/interview/create", {"title": "Appointment reminder", "flow": small_flow()})
    big = call("POST", "/interview/create", {"title": "Long survey (300 nodes)", "flow": big_flow()}, timeout=300)
    assert len(big["flow"]["nodes"]) == 300, "the 300-node agent came back with another size"
    calls = []
    for i in range(a.calls):
        number = SANDBOX[i % len(SANDBOX)]
        c = call("POST", "/contact/create", {"phone_number": number, "name": f"Sandbox {number[-2:]}"})
        placed = call("POST", "/contact/call", {"contact_id": c["id"], "interview_id": agent["id"]})
        calls.append(placed["id"])
    deadline = time.time() + 600
    pending = set(calls)
    while pending and time.time() < deadline:
        for cid in list(pending):
            st = call("GET", f"/interview_response/{cid}")["status"]
            if st not in ("NOT_STARTED", "IN_PROGRESS"):
                pending.discard(cid)
        if pending:
            time.sleep(2)
    if pending:
        sys.exit(f"seed: calls still in progress after 600 s: {sorted(pending)}")
    statuses = [call("GET", f"/interview_response/{cid}")["status"] for cid in calls]
    state = {"url": a.url, "team": team, "token": token, "agent": agent["id"], "big_agent": big["id"],
             "calls": calls, "statuses": statuses}
    json.dump(state, open(a.out, "w"), indent=1)
    print(f"seed: {a.url}: agent {agent['id']}, 300-node agent {big['id']}, {len(calls)} real calls ({', '.join(statuses)})")


def contacts(a):
    s = json.load(open(a.state))
    import itertools
    numbers = list(itertools.islice(
        (f"+1{area}{ex:03d}{i:04d}" for area in (212, 415) for ex in range(200, 300) for i in range(10000)), a.n))
    rnd = random.Random(1)
    first = ["Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea", "Max", "Nia", "Oto", "Pia"]
    last = ["Smith", "Garcia", "Chen", "Okafor", "Novak", "Silva", "Kim", "Haddad", "Müller", "Rossi", "Ivanova", "Patel"]
    tags = ["lead", "customer", "vip", "newsletter", "q4", "west", "east", "churned"]
    batches = []
    for b in range(0, len(numbers), 1000):
        batches.append([
            {"phone_number": n, "name": f"{rnd.choice(first)} {rnd.choice(last)} {b + j}",
             "tags": rnd.sample(tags, rnd.randint(0, 3))}
            for j, n in enumerate(numbers[b:b + 1000])
        ])
    t0 = time.time()
    created = failed = 0
    with cf.ThreadPoolExecutor(2) as ex:
        for r in ex.map(lambda rows: api(a.url, s["token"], s["team"], "POST", "/contact/bulk_create",
                                         {"contacts": rows, "country_code": "+1"}, timeout=300), batches):
            created += r["created"]
            failed += r["failed"]
    print(f"seed: {created} contacts created, {failed} refused, in {time.time() - t0:.0f} s")
    if created != len(numbers):
        sys.exit("seed: not every contact was created")


def v7(ms, rnd):
    """A UUIDv7 with the given millisecond timestamp (what the server's Uuid::now_v7 makes)."""
    b = bytearray(ms.to_bytes(6, "big") + rnd.getrandbits(80).to_bytes(10, "big"))
    b[6] = 0x70 | (b[6] & 0x0F)
    b[8] = 0x80 | (b[8] & 0x3F)
    return str(uuid.UUID(bytes=bytes(b)))


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def ms_of(s):
    import datetime as dt
    return int(dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc).timestamp() * 1000)


def clone(a):
    s = json.load(open(a.state))
    db = sqlite3.connect(a.db)
    db.row_factory = sqlite3.Row
    cols = [c[1] for c in db.execute("PRAGMA table_info(calls)")]
    tpl = [dict(r) for r in db.execute("SELECT * FROM calls WHERE team_id = ?", (s["team"],))]
    if not tpl:
        sys.exit("seed: no real call to clone")
    events = {t["id"]: [dict(e) for e in db.execute("SELECT * FROM call_events WHERE call_id = ? ORDER BY at", (t["id"],))] for t in tpl}
    people = [dict(r) for r in db.execute(
        "SELECT * FROM contacts WHERE team_id = ? AND phone_number NOT LIKE '+1212555010%'", (s["team"],))]
    if not people:
        sys.exit("seed: no contacts to attach calls to (run `contacts` first)")
    rnd = random.Random(7)
    now = int(time.time() * 1000)
    span = 90 * 86400 * 1000
    ecols = [c[1] for c in db.execute("PRAGMA table_info(call_events)")]
    call_sql = f"INSERT INTO calls ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    ev_sql = f"INSERT INTO call_events ({', '.join(ecols)}) VALUES ({', '.join('?' * len(ecols))})"
    iso_re = re.compile(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"')
    t0 = time.time()
    rows, evrows = [], []
    # Oldest first, so ids and `created` grow together as they would have.
    stamps = sorted(now - rnd.randrange(span) for _ in range(a.n))
    for created in stamps:
        t = rnd.choice(tpl)
        p = rnd.choice(people)
        delta = created - t["created"]
        cid = v7(created, rnd)
        body = json.loads(t["body"])
        contact = {"id": p["id"], "created": iso(p["created"]), "updated": iso(p["updated"]), "version": p["version"],
                   "team_id": p["team_id"], "status": p["status"], "name": p["name"], "phone_number": p["phone_number"],
                   "email": p["email"], "attributes": json.loads(p["attributes"]), "tags": json.loads(p["tags"]),
                   "lead_source": p["lead_source"]}
        body["contact"] = None
        # Every timestamp of the real call moves by the same delta (start/end, transcript lines, timeline).
        text = iso_re.sub(lambda m: '"' + iso(ms_of(m.group(1)) + delta) + '"', json.dumps(body, separators=(",", ":")))
        body = json.loads(text)
        body.update(id=cid, contact=contact, phone_number=p["phone_number"], created=iso(created),
                    updated=iso(t["updated"] + delta))
        # The recordings are files of the real calls; clones have none.
        body["recording_url"] = None
        row = dict(t)
        row.update(id=cid, contact_id=p["id"], created=created, updated=t["updated"] + delta,
                   search_text=f"{p['phone_number']} {p['name'] or ''} {p['email'] or ''} {body.get('transcript', '')}".lower(),
                   body=json.dumps(body, separators=(",", ":")))
        rows.append([row[c] for c in cols])
        for e in events[t["id"]]:
            ev = dict(e)
            ev.update(id=v7(e["at"] + delta, rnd), call_id=cid, at=e["at"] + delta)
            evrows.append([ev[c] for c in ecols])
    with db:
        db.executemany(call_sql, rows)
        db.executemany(ev_sql, evrows)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n = db.execute("SELECT count(*) FROM calls WHERE team_id = ?", (s["team"],)).fetchone()[0]
    by = db.execute("SELECT status, count(*) FROM calls WHERE team_id = ? GROUP BY status", (s["team"],)).fetchall()
    print(f"seed: cloned {len(tpl)} real calls into {a.n} rows (+{len(evrows)} events) in {time.time() - t0:.0f} s; "
          f"the team has {n} calls: {', '.join(f'{r[0]} {r[1]}' for r in by)}")
    db.close()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--url", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--calls", type=int, default=1)
    c = sub.add_parser("contacts")
    c.add_argument("--state", required=True)
    c.add_argument("--url", required=True)
    c.add_argument("--n", type=int, default=100_000)
    k = sub.add_parser("clone")
    k.add_argument("--state", required=True)
    k.add_argument("--db", required=True)
    k.add_argument("--n", type=int, default=100_000)
    a = p.parse_args()
    {"setup": setup, "contacts": contacts, "clone": clone}[a.cmd](a)


if __name__ == "__main__":
    main()
