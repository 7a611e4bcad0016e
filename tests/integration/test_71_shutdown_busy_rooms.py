"""test_71_shutdown_busy_rooms: SIGTERM ends the daemon even when rooms
still have work scheduled: a workshop timer running for ten minutes keeps
its room loaded, and presence changes are waiting to be published. The
harness's stop() requires exit status 0 within 10 s.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tavlatest as tt  # noqa: E402


class BusyShutdown(tt.TavlaCase):

    async def test_running_timer_and_pending_presence(self):
        d = self.start_daemon({"presence_ms": 5000})
        mod = await self.moderator(d)
        room = (await mod.call("room.create", kind="workshop", title="Lång verkstad"))["room"]
        await mod.join(room=room["id"])
        await mod.call("timer.set", room=room["id"], action="start", seconds=600)
        p = await self.participant(d, room["code"], "Sista")  # presence now pending
        self.assertTrue(p.token)
        await d.astop()


if __name__ == "__main__":
    tt.main()
