#!/bin/bash
# start paced run, snapshot the connector after 6 s
cd /work/main
export PATH=$PWD/node_modules/.bin:$PATH
rm -f /tmp/snap/*.heapsnapshot; mkdir -p /tmp/snap
(cd /tmp/snap && CLI=/work/main/src/cli.ts FLAGS="--heapsnapshot-signal=SIGUSR2" SECONDS_=12 node /work/main/scratch/paced.ts > /tmp/snap/run.log 2>&1 &)
sleep 8
pid=$(pgrep -f "src/cli.ts connect" | head -1)
kill -USR2 $pid
sleep 8
ls -la /tmp/snap
