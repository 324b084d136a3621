#!/usr/bin/perl
# A small file-sharing app, for cc-ci's dependencies example: behind an OpenID Connect login
# (oauth2-proxy, which names the user in X-Forwarded-Preferred-Username), it keeps each file in an
# S3 bucket and who uploaded it in PostgreSQL — the run's `files` and `db` dependencies — and mails
# the uploader a notice through SMTP (the run's `mail` dependency) when SMTP_HOST is set.
#   PUT /files/NAME      stores the body as NAME (S3) and who sent it (PostgreSQL), mails a notice
#   GET /files/NAME      the file, read back from S3
#   GET /files           "NAME SIZE UPLOADER" per file, from PostgreSQL
#   GET /probe?bucket=B  the S3 status of listing bucket B with the app's own key (isolation checks)
#   GET /health          200 when both answer
use strict;
use warnings;
use IO::Socket::INET;
use HTTP::Tiny;
use Digest::SHA qw(sha256_hex hmac_sha256 hmac_sha256_hex);
use POSIX qw(strftime);
use File::Temp;
use Net::SMTP;

sub slurp { my $f = shift; local (@ARGV, $/) = ($f); my $s = <>; chomp $s; return $s }
$ENV{PGPASSWORD} = slurp('/run/secrets/db_password');
$ENV{PGCONNECT_TIMEOUT} = 5;
my %s3 = (
  endpoint => $ENV{S3_ENDPOINT}, region => $ENV{S3_REGION}, bucket => $ENV{S3_BUCKET},
  access => $ENV{S3_ACCESS_KEY}, secret => slurp('/run/secrets/s3_secret_key'),
);
my $http = HTTP::Tiny->new(timeout => 20);

# An S3 request signed with Signature Version 4 (path-style, payload hashed).
sub s3 {
  my ($method, $path, $body, $query) = @_;
  $body //= '';
  $query //= '';
  my ($host) = $s3{endpoint} =~ m{^https?://([^/]+)};
  my $now = strftime('%Y%m%dT%H%M%SZ', gmtime);
  my $day = substr($now, 0, 8);
  my $hash = sha256_hex($body);
  my $canonical = join("\n", $method, $path, $query, "host:$host", "x-amz-content-sha256:$hash",
    "x-amz-date:$now", '', 'host;x-amz-content-sha256;x-amz-date', $hash);
  my $scope = "$day/$s3{region}/s3/aws4_request";
  my $key = hmac_sha256('aws4_request', hmac_sha256('s3', hmac_sha256($s3{region}, hmac_sha256($day, "AWS4$s3{secret}"))));
  my $sig = hmac_sha256_hex(join("\n", 'AWS4-HMAC-SHA256', $now, $scope, sha256_hex($canonical)), $key);
  return $http->request($method, "$s3{endpoint}$path" . ($query ne '' ? "?$query" : ''), {
    headers => {
      'x-amz-date' => $now, 'x-amz-content-sha256' => $hash,
      authorization => "AWS4-HMAC-SHA256 Credential=$s3{access}/$scope, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=$sig",
    },
    content => $body,
  });
}

sub psql {
  my ($sql, %vars) = @_;
  my @args = ('psql', '-X', '-qAt', '-v', 'ON_ERROR_STOP=1');
  push @args, '-v', "$_=$vars{$_}" for sort keys %vars;
  # From a file: psql interpolates its variables (:'name', quoted) only in what it reads.
  my $f = File::Temp->new;
  print $f "$sql;\n";
  close $f;
  push @args, '-f', $f->filename;
  my $pid = open(my $out, '-|') // return (1, "fork: $!");
  if ($pid == 0) { open(STDERR, '>&', \*STDOUT); exec @args; exit 127; }
  local $/;
  my $text = <$out> // '';
  close $out;
  return ($? >> 8, $text);
}

# "NAME was stored", to UPLOADER@<the mail domain> from MAIL_FROM. Returns an error, or undef.
sub notify {
  my ($who, $name) = @_;
  return undef unless $ENV{SMTP_HOST};
  my ($domain) = $ENV{MAIL_FROM} =~ /\@(.+)$/;
  my $to = "$who\@$domain";
  my $smtp = Net::SMTP->new($ENV{SMTP_HOST}, Port => $ENV{SMTP_PORT}, Timeout => 10)
    or return "SMTP $ENV{SMTP_HOST}:$ENV{SMTP_PORT}: $@";
  my $ok = $smtp->mail($ENV{MAIL_FROM}) && $smtp->to($to)
    && $smtp->data("From: $ENV{MAIL_FROM}\r\nTo: $to\r\nSubject: $name was stored\r\n\r\n$name is in the bucket.\r\n");
  my $err = $ok ? undef : 'SMTP: ' . $smtp->message;
  $smtp->quit;
  return $err;
}

my $schema = 'CREATE TABLE IF NOT EXISTS files (name text PRIMARY KEY, size int NOT NULL, uploader text NOT NULL)';
my $server = IO::Socket::INET->new(LocalPort => 8080, Listen => 16, ReuseAddr => 1) or die "listen: $!";
while (my $c = $server->accept) {
  my $line = <$c> // '';
  my %h;
  while (my $l = <$c>) { last if $l =~ /^\r?\n$/; $h{lc $1} = $2 if $l =~ /^([^:]+):\s*(.*?)\r?$/ }
  my ($method, $path, $query) = $line =~ m{^(\w+) (/[^ ?]*)(?:\?(\S*))? HTTP} ? ($1, $2, $3 // '') : ('', '', '');
  my $body = '';
  read($c, $body, $h{'content-length'}) if ($h{'content-length'} // 0) > 0 && $h{'content-length'} < 10_000_000;
  my ($code, $out) = (404, "not found\n");
  if ($path eq '/health') {
    my ($rc, $err) = psql($schema);
    my $r = s3('GET', "/$s3{bucket}", '', 'list-type=2');
    ($code, $out) = $rc == 0 && $r->{status} == 200 ? (200, "ok\n") : (503, "db: $err s3: $r->{status}\n");
  } elsif ($path =~ m{^/files/([A-Za-z0-9._-]{1,100})$}) {
    my $name = $1;
    if ($method eq 'PUT') {
      my $r = s3('PUT', "/$s3{bucket}/$name", $body);
      my $who = $h{'x-forwarded-preferred-username'} // 'anonymous';
      my ($rc, $err) = $r->{success} ? psql("$schema; INSERT INTO files VALUES (:'name', :'size', :'who') ON CONFLICT (name) DO UPDATE SET size = :'size', uploader = :'who'", name => $name, size => length($body), who => $who) : (1, "S3 $r->{status}: $r->{content}");
      $err = notify($who, $name) if $rc == 0;
      ($code, $out) = $rc == 0 && !$err ? (201, "stored $name\n") : (500, $err);
    } else {
      my $r = s3('GET', "/$s3{bucket}/$name");
      ($code, $out) = ($r->{status}, $r->{content});
    }
  } elsif ($path eq '/files') {
    my ($rc, $text) = psql('SELECT name || \' \' || size || \' \' || uploader FROM files ORDER BY name');
    ($code, $out) = ($rc == 0 ? 200 : 500, $text);
  } elsif ($path eq '/probe' && $query =~ /^bucket=([a-z0-9-]{3,63})$/) {
    ($code, $out) = (200, s3('GET', "/$1", '', 'list-type=2')->{status} . "\n");
  }
  print $c "HTTP/1.0 $code X\r\nContent-Type: text/plain\r\nContent-Length: " . length($out) . "\r\n\r\n$out";
  close $c;
}
