// Compiled by `tsc` in the test command (never run): the declarations in
// js/index.d.ts must type the way the docs use the package.
import { Room, openDevice, forgetDevice, type RoomEvents, type BedsideError } from "../js/index.js";

async function visit(url: string, token: string, video: HTMLVideoElement): Promise<void> {
  const room = new Room();
  room
    .on("lobbyChanged", ({ waiting }) => waiting.forEach((w) => void room.admit(w.id)))
    .on("trackSubscribed", ({ track, source }) => {
      if (source !== "microphone") video.srcObject = new MediaStream([track]);
    })
    .on("chatReceived", (e: RoomEvents["chatReceived"]) =>
      console.assert(typeof e.text === "string"),
    )
    .on(
      "connectionQualityChanged",
      ({ quality, rttMs }) => void [quality === "excellent", rttMs ?? 0],
    )
    .on("error", ({ error }: { error: BedsideError }) => void error.code)
    .on("ended", ({ reason }) => void (reason === "visit_ended"));
  await room.connect({
    url,
    token,
    tokenSource: async (purpose) => (purpose === "join" ? token : token),
  });
  const media = await navigator.mediaDevices.getUserMedia({
    video: true,
    audio: true,
  });
  await room.publishTrack(media.getVideoTracks()[0], "camera");
  const id: string = await room.sendChat("hello");
  const next: RoomEvents["chatAcknowledged"] = await room.once("chatAcknowledged");
  console.assert(next.messageId === id);
  const stats: RTCStatsReport | undefined = await room.getStats("dr-1");
  void stats;
  const device = await openDevice();
  void device.id;
  await room.leave();
  await forgetDevice();
}
void visit;
