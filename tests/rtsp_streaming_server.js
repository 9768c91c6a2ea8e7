// The npm relay rtsp-streaming-server for tests: publishers ANNOUNCE and RECORD on one port,
// players DESCRIBE, SETUP and PLAY on another, RTP relayed over UDP from a port range.
//
//     NODE_PATH=.peers/node_modules node tests/rtsp_streaming_server.js PUBLISH_PORT PLAY_PORT RTP_START RTP_COUNT
//
// Runs until SIGTERM.
"use strict";
const RtspServer = require("rtsp-streaming-server").default;

const [publishPort, playPort, rtpStart, rtpCount] = process.argv.slice(2).map(Number);
const server = new RtspServer({
  serverPort: publishPort,
  clientPort: playPort,
  rtpPortStart: rtpStart,
  rtpPortCount: rtpCount,
});
server.start().then(
  () => {},
  (error) => {
    process.stderr.write(`cannot start: ${error}\n`);
    process.exit(1);
  },
);
process.on("SIGTERM", () => server.stop().then(() => process.exit(0)));
