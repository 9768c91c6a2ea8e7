# The relay rtsp-server-perl (Debian librtsp-server-perl) for tests: its bundled
# rtsp-server.pl, which Debian does not install, with the ports and address as arguments.
#
#     perl tests/rtsp_server_perl.pl PLAY_PORT PUBLISH_PORT RTP_START
#
# Publishers ANNOUNCE and RECORD on PUBLISH_PORT, players DESCRIBE, SETUP and PLAY on
# PLAY_PORT, on 127.0.0.1; RTP ports are taken two by two from RTP_START. Runs until killed.
use strict;
use warnings;
use AnyEvent;
use RTSP::Server;

my ($play_port, $publish_port, $rtp_start) = @ARGV;
die "usage: $0 PLAY_PORT PUBLISH_PORT RTP_START\n" unless defined $rtp_start;
my $server = RTSP::Server->new(
    client_listen_port    => $play_port,
    source_listen_port    => $publish_port,
    rtp_start_port        => $rtp_start,
    client_listen_address => '127.0.0.1',
    source_listen_address => '127.0.0.1',
    log_level             => 1,
);
$server->listen;
AnyEvent->condvar->recv;
