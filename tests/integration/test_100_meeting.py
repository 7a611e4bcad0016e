"""test_100_meeting: a network meeting run through real connections
(PROTOCOL.md §9).

One moderator, 30 voters, a participant who only listens and an observer
follow a scripted day: the agenda advances, polls run with 30 voters (a
named one, an anonymous one with live results, an anonymous scale whose
results wait for the close, a free-text one whose answers are counted in
normal form), check-in and check-out rounds, raised hands and the speaker
queue, chat with a reply and a reaction.

Anonymity is checked on the raw frames: no frame any client received
(participants, observer, moderator) links an anonymous answer to anyone
but the receiver itself; answers to polls whose results wait for the close
reach participants as placeholders only.

Then a late joiner with since=0 receives exactly what the listener
received live, a second moderator connection exactly what the moderator
received, and after a restart of the daemon (replay from the store) the
export, history and a new late joiner are the same as before it.
"""

import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402
from test_80_workshop import RawClient  # noqa: E402

VOTERS = 30
OPTIONS = ["Ja!", "Nej", "Det beror på"]


def items(frame):
    msg = tt.strict_loads(frame)
    return msg["items"] if msg.get("type") == "batch" else [msg]


def dump(x):
    return json.dumps(x, ensure_ascii=False, sort_keys=True)


class MeetingCase(tt.TavlaCase):
    async def connect(self, daemon, cafile=None):
        c = await RawClient.connect(daemon, cafile=cafile)
        self.addAsyncCleanup(c.close_quietly)
        return c

    async def everyone_at(self, clients, seq):
        for c in clients:
            await c.wait_seq(self.R, seq)

    async def test_meeting_day(self):
        d = self.start_daemon()
        mod = await self.moderator(d)
        room = (await mod.call("room.create", kind="meeting", title="Nätverksträff i Ödeshög"))["room"]
        R = self.R = room["id"]
        await mod.join(room=R)
        voters = []
        for i in range(VOTERS):
            voters.append(await self.participant(d, room["code"], "Deltagare %02d Åström" % i))
        listener = await self.participant(d, room["code"], "Lyssnare Ek")
        observer = await self.participant(d, room["code"], "Gäst från myndigheten", observer=True)
        everyone = [mod, listener, observer] + voters
        vid = {v.identity["id"]: v.identity["name"] for v in voters}

        # ---- the agenda, and everyone sees it move ----
        items_ = [("Incheckning", "theme", "09:30", 15, None),
                  ("Strategin i praktiken", "talk", "09:45", 40, "Karin Berg"),
                  ("Samtal i grupper", "dialogue", "10:30", 45, None),
                  ("Lunch", "lunch", "12:00", 60, None),
                  ("Avslutning", "closing", "15:30", 15, None)]
        ids = []
        for title, kind, start, minutes, who in items_:
            args = dict(room=R, title=title, kind=kind, start=start, minutes=minutes)
            if who:
                args["presenter"] = who
            ids.append((await mod.call("agenda.add", **args))["item"])
        self.assertEqual(ids, ["a1", "a2", "a3", "a4", "a5"])
        self.assertEqual(await mod.error("agenda.add", room=R, title="X", kind="fika",
                                         start="10:00", minutes=5), "bad_request")
        self.assertEqual(await mod.error("agenda.add", room=R, title="X", kind="break",
                                         start="24:00", minutes=5), "bad_request")
        self.assertEqual(await voters[0].error("agenda.current", room=R, item="a1"), "forbidden")
        await mod.call("agenda.edit", room=R, item="a3", minutes=50, title="Samtal i små grupper")
        for item in ("a1", "a2", "a3"):
            r = await mod.call("agenda.current", room=R, item=item)
            await self.everyone_at(everyone, r["seq"])
        self.assertEqual(await mod.error("agenda.current", room=R, item="a9"), "item_not_found")
        for c in everyone:
            moves = [e["data"]["item"] for e in c.events[R] if e["kind"] == "agenda.current"]
            self.assertEqual(moves, ["a1", "a2", "a3"])

        # ---- a named poll with live results ----
        p_named = (await mod.call("poll.create", room=R, question="Har ni en regional strategi?",
                                  type="single", options=["Ja", "Nej"], anonymity="named"))["poll"]
        await asyncio.gather(*[v.call("poll.answer", room=R, poll=p_named,
                                      choice="o1" if i % 3 else "o2") for i, v in enumerate(voters)])
        r = await mod.call("poll.close", room=R, poll=p_named)
        await self.everyone_at(everyone, r["seq"])
        closed = [e for e in listener.events[R] if e["kind"] == "poll.closed"][-1]["data"]["results"]
        self.assertEqual(closed["voters"], VOTERS)
        self.assertEqual(closed["counts"], {"o1": 20, "o2": 10})
        self.assertEqual(sorted(b["name"] for b in closed["ballots"]), sorted(vid.values()))
        self.assertEqual(await voters[0].error("poll.answer", room=R, poll=p_named, choice="o1"),
                         "closed")

        # ---- the dialogue question, anonymous, live; ten change their minds ----
        p_anon = (await mod.call("poll.create", room=R,
                                 question="Behöver ni ändra strategin löpande?", type="single",
                                 options=OPTIONS, anonymity="anonymous", results="live"))["poll"]
        marks = {c: len(c.raw) for c in everyone}
        await asyncio.gather(*[v.call("poll.answer", room=R, poll=p_anon, choice="o%d" % (i % 3 + 1))
                               for i, v in enumerate(voters)])
        await asyncio.gather(*[v.call("poll.answer", room=R, poll=p_anon, choice="o3")
                               for v in voters[:10]])
        self.assertEqual(await voters[0].error("poll.answer", room=R, poll=p_anon, choice="o7"),
                         "bad_request")
        # a retried request (same id) after a newer answer changes nothing
        last = voters[-1]
        await last.call("poll.answer", id="svar-1", room=R, poll=p_anon, choice="o1")
        await last.call("poll.answer", room=R, poll=p_anon, choice="o2")
        again = await last.request("poll.answer", id="svar-1", room=R, poll=p_anon, choice="o1")
        self.assertIs(again.get("replayed"), True, again)
        r = await mod.call("poll.close", room=R, poll=p_anon)
        await self.everyone_at(everyone, r["seq"])
        res = [e for e in observer.events[R] if e["kind"] == "poll.closed"][-1]["data"]["results"]
        # first answers: o1 x10, o2 x10, o3 x10; voters 0..9 moved to o3
        # (of them 0,3,6,9 were o1 and 1,4,7 were o2); voter 29 went o3 -> o1 -> o2
        self.assertEqual(res, {"voters": VOTERS, "counts": {"o1": 6, "o2": 8, "o3": 16}})

        # ---- an anonymous scale whose results wait for the close ----
        p_scale = (await mod.call("poll.create", room=R, question="Hur nöjda är ni med dagen?",
                                  type="scale", anonymity="anonymous", results="closed"))["poll"]
        await asyncio.gather(*[v.call("poll.answer", room=R, poll=p_scale, value=i % 5 + 1)
                               for i, v in enumerate(voters)])
        last = await voters[-1].call("poll.answer", room=R, poll=p_scale, value=5)
        await self.everyone_at(everyone, last["seq"])
        for c in [listener, observer] + voters:
            for e in c.events[R]:
                if e["kind"] == "poll.answered" and e["data"]["poll"] == p_scale and \
                        e["author"] is None:
                    self.assertEqual(set(e["data"]), {"poll", "first"}, e)
        r = await mod.call("poll.close", room=R, poll=p_scale)
        await self.everyone_at(everyone, r["seq"])
        res = [e for e in listener.events[R] if e["kind"] == "poll.closed"][-1]["data"]["results"]
        self.assertEqual(res["voters"], VOTERS)
        self.assertEqual(res["counts"], {"1": 6, "2": 6, "3": 6, "4": 6, "5": 6})
        self.assertAlmostEqual(res["mean"], 3.0)

        # ---- the anonymity scan over every raw frame since the anonymous polls began ----
        anon_polls = {p_anon, p_scale}
        for c in everyone:
            own_id = c.identity["id"]
            foreign = {i: n for i, n in vid.items() if i != own_id}
            for frame in c.raw[marks[c]:]:
                for it in items(frame):
                    kind = it.get("kind", "")
                    data = it.get("data", {})
                    about_anon = (kind.startswith("poll.") and data.get("poll") in anon_polls) or \
                        (it.get("type") == "reply" and "poll" in json.dumps(it.get("result", {})))
                    if not about_anon:
                        continue
                    text = json.dumps(it, ensure_ascii=False)
                    for i, n in foreign.items():
                        self.assertNotIn(i, text, "%s received a voter's id: %s" % (own_id, text))
                        self.assertNotIn(n, text, "%s received a voter's name: %s" % (own_id, text))
                    if kind == "poll.answered":
                        a = it.get("author")
                        self.assertIn(a and a["id"], (None, own_id), text)

        # ---- a free-text poll: answers counted in normal form ----
        p_text = (await mod.call("poll.create", room=R, question="Ett ord om förmiddagen?",
                                 type="text", anonymity="anonymous"))["poll"]
        words = ["Lärorikt!", " lärorikt ", "LÄRORIKT", "Givande.", "givande", "Långt?"]
        await asyncio.gather(*[v.call("poll.answer", room=R, poll=p_text, text=words[i % len(words)])
                               for i, v in enumerate(voters)])
        self.assertEqual(await voters[0].error("poll.answer", room=R, poll=p_text, text="?!"),
                         "bad_request")
        r = await mod.call("poll.close", room=R, poll=p_text)
        await self.everyone_at(everyone, r["seq"])
        res = [e for e in listener.events[R] if e["kind"] == "poll.closed"][-1]["data"]["results"]
        self.assertEqual(res["answers"], [{"text": "lärorikt", "count": 15},
                                          {"text": "givande", "count": 10},
                                          {"text": "långt", "count": 5}])

        # ---- check-in and check-out rounds ----
        for kind, prompt in (("checkin", "Säg hej till någon du inte känner"),
                             ("checkout", "Vad har jag blivit klokare på i dag?")):
            rd = (await mod.call("round.open", room=R, kind=kind, prompt=prompt))["round"]
            await asyncio.gather(*[v.call("round.answer", room=R, round=rd,
                                          text="%s från %s" % (kind, v.identity["name"]))
                                   for v in voters])
            await voters[3].call("round.answer", room=R, round=rd, text="Ändrat svar, å ä ö")
            await mod.call("round.close", room=R, round=rd)
            self.assertEqual(await voters[4].error("round.answer", room=R, round=rd, text="sent"),
                             "closed")
        self.assertEqual(await mod.error("round.close", room=R, round="rd9"), "round_not_found")

        # ---- hands and the speaker queue ----
        for v in voters[5:8]:
            await v.call("hand.raise", room=R)
        self.assertEqual(await voters[5].error("hand.raise", room=R), "bad_request")
        self.assertEqual((await mod.call("queue.next", room=R))["speaker"], voters[5].identity["id"])
        await voters[6].call("hand.lower", room=R)
        self.assertEqual(await voters[8].error("hand.lower", room=R,
                                               identity=voters[7].identity["id"]), "forbidden")
        self.assertEqual((await mod.call("queue.next", room=R))["speaker"], voters[7].identity["id"])
        self.assertEqual(await mod.error("queue.next", room=R), "queue_empty")
        # Two queue.next at once (a double click) call two people in turn,
        # never the same one twice; a third finds the queue empty.
        for v in voters[9:11]:
            await v.call("hand.raise", room=R)
        both = await asyncio.gather(mod.request("queue.next", room=R),
                                    mod.request("queue.next", room=R),
                                    mod.request("queue.next", room=R))
        called = [r["result"]["speaker"] for r in both if r["ok"]]
        self.assertEqual(called, [voters[9].identity["id"], voters[10].identity["id"]])
        self.assertEqual([r["error"]["code"] for r in both if not r["ok"]], ["queue_empty"])

        # ---- chat with a reply and reactions ----
        first = (await mod.call("chat.send", room=R, text="Välkomna till Ödeshög!"))["seq"]
        await voters[0].call("chat.send", room=R, text="Tack!", reply_to=first)
        self.assertEqual(await voters[0].error("chat.send", room=R, text="x", reply_to=2),
                         "bad_request")
        await voters[1].call("react", room=R, target=first, emoji="👏")
        await voters[2].call("react", room=R, target=first, emoji="👏")
        self.assertEqual(await voters[2].error("react", room=R, target=first, emoji="👏"),
                         "bad_request")
        r = await voters[2].call("react", room=R, target=first, emoji="👏", on=False)
        self.assertEqual(await voters[2].error("react", room=R, target=2, emoji="👏"),
                         "post_not_found")
        head = r["seq"]
        await self.everyone_at(everyone, head)

        export = (await mod.call("meeting.export", room=R))["export"]
        self.assertEqual([a["id"] for a in export["agenda"]], ["a1", "a2", "a3", "a4", "a5"])
        self.assertEqual(export["current"], "a3")
        self.assertEqual([len(r["answers"]) for r in export["rounds"]], [VOTERS, VOTERS])
        self.assertEqual(export["chat"][0]["reactions"], {"👏": 1})
        self.assertEqual(await voters[0].error("meeting.export", room=R), "forbidden")
        md = (await mod.call("meeting.export", room=R, format="markdown"))["markdown"]
        self.assertIn("| ▶ | 10:30 | 50 | Samtal i små grupper | dialogue |", md)
        self.assertIn("### Check-out: Vad har jag blivit klokare på i dag?", md)
        anon_md = md[md.index("### Behöver ni ändra"):md.index("### Hur nöjda")]
        for n in vid.values():
            self.assertNotIn(n, anon_md)
        # The room-kind-independent `export` gives the same, also over a
        # signed HTTPS link; CSV and HTML are the workshops' formats.
        self.assertEqual(json.loads((await mod.call("export", room=R, format="json"))["body"]),
                         export)
        self.assertEqual((await mod.call("export", room=R, format="markdown"))["body"], md)
        self.assertEqual(await mod.error("export", room=R, format="csv"), "bad_request")
        link = await mod.call("export.link", room=R, format="markdown")
        status, body = await asyncio.to_thread(tt.https_get, d, link["url"])
        self.assertEqual((status, body), (200, md))

        # ---- a late joiner sees exactly what the listener saw live ----
        late = await self.participant(d, room["code"], "Sen Sjöberg")
        await late.wait_seq(R, head)

        def upto(c, h):
            return [dump(e) for e in c.events[R] if e["seq"] <= h]
        self.assertEqual(upto(late, head), upto(listener, head))
        mod2 = await self.resumed(d, mod.token)
        await mod2.join(room=R, since=0)
        await mod2.wait_seq(R, head)
        self.assertEqual(upto(mod2, head), upto(mod, head))
        obs2 = await self.resumed(d, observer.token)
        await obs2.join(room=R, since=0)
        await obs2.wait_seq(R, head)
        self.assertEqual(upto(obs2, head), upto(observer, head))
        hist = await listener.call("history", room=R, before=head + 1, limit=1000)
        self.assertEqual([dump(e) for e in hist["events"]], upto(listener, head))
        live_listener = upto(listener, head)
        live_mod = upto(mod, head)

        # ---- restart: the state is rebuilt from the store ----
        for c in everyone + [late, mod2, obs2]:
            await c.close_quietly()
        d.stop()
        d.restart()
        mod3 = await self.resumed(d, mod.token)
        await mod3.join(room=R, since=0)
        await mod3.wait_seq(R, head)
        self.assertEqual(upto(mod3, head), live_mod)
        self.assertEqual((await mod3.call("meeting.export", room=R))["export"], export)
        self.assertEqual((await mod3.call("meeting.export", room=R, format="markdown"))["markdown"], md)
        lis = await self.resumed(d, listener.token)
        await lis.join(room=R, since=0)
        await lis.wait_seq(R, head)
        self.assertEqual(upto(lis, head), live_listener)
        late2 = await self.participant(d, room["code"], "Efter omstarten")
        await late2.wait_seq(R, head)
        self.assertEqual(upto(late2, head), live_listener)
        # the rules survive the restart too: closed stays closed, ids go on
        v0 = await self.resumed(d, voters[0].token)
        await v0.join(room=R)
        self.assertEqual(await v0.error("poll.answer", room=R, poll=p_anon, choice="o1"), "closed")
        self.assertEqual((await mod3.call("poll.create", room=R, question="Nästa träff?",
                                          type="multiple", options=["Mars", "April", "Maj"]))["poll"],
                         "p5")
        r = await v0.call("poll.answer", room=R, poll="p5", choices=["o3", "o1"])
        ev = await v0.event(R, r["seq"])
        self.assertEqual(ev["data"]["answer"], ["o1", "o3"])
        self.assertEqual(await v0.error("poll.answer", room=R, poll="p5", choices=["o1", "o1"]),
                         "bad_request")
        self.assertEqual(await v0.error("poll.answer", room=R, poll="p9", choice="o1"),
                         "poll_not_found")

    async def test_workshop_rooms_refuse(self):
        d = self.start_daemon()
        mod = await self.moderator(d)
        room = (await mod.call("room.create", kind="workshop", title="Verkstad"))["room"]
        await mod.join(room=room["id"])
        self.assertEqual(await mod.error("agenda.add", room=room["id"], title="X", kind="theme",
                                         start="09:00", minutes=5), "not_a_meeting")
        self.assertEqual(await mod.error("thread.create", room=room["id"], title="X", text="Y"),
                         "not_a_meeting")


if __name__ == "__main__":
    tt.main()
