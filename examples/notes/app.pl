#!/usr/bin/perl
# A small notes app on PostgreSQL, for cc-ci's dependency example: it keeps notes in the database the
# run's `db` dependency gives it, through psql (the image's client), and says who it is there.
#   GET /health          200 when the database answers (and has the notes table)
#   GET /add?text=...    stores a note
#   GET /notes           every note, one per line
#   GET /whoami          role, database, server version, pgcrypto installed (1/0)
#   GET /probe?db=NAME   tries to connect to another database with the app's own role
use strict;
use warnings;
use IO::Socket::INET;
use File::Temp;

$ENV{PGPASSWORD} = do { local (@ARGV, $/) = ('/run/secrets/db_password'); <> };
chomp $ENV{PGPASSWORD};
$ENV{PGCONNECT_TIMEOUT} = 5;

sub psql {
  my ($db, $sql, %vars) = @_;
  my @args = ('psql', '-X', '-qAt', '-v', 'ON_ERROR_STOP=1', '-d', $db);
  push @args, '-v', "$_=$vars{$_}" for sort keys %vars;
  # From a file, not -c: psql interpolates its variables (:'text', quoted) only in what it reads.
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

sub decode { my $s = shift // ''; $s =~ tr/+/ /; $s =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge; return $s }

my $db = $ENV{PGDATABASE};
# The schema, made by the health check: the app is healthy once its database answers and has it.
my $schema = 'CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, text text NOT NULL)';

my $server = IO::Socket::INET->new(LocalPort => 8080, Listen => 16, ReuseAddr => 1) or die "listen: $!";
while (my $c = $server->accept) {
  my $line = <$c> // '';
  while (my $h = <$c>) { last if $h =~ /^\r?\n$/ }
  my ($path, $query) = $line =~ m{^GET (/[^ ?]*)(?:\?(\S*))? HTTP} ? ($1, $2 // '') : ('', '');
  my %q = map { my ($k, $v) = split /=/, $_, 2; (decode($k), decode($v)) } grep { length } split /&/, $query;
  my ($code, $body) = (404, "not found\n");
  if ($path eq '/health') {
    my ($rc, $out) = psql($db, $schema);
    ($code, $body) = $rc == 0 ? (200, "ok\n") : (503, $out);
  } elsif ($path eq '/add' && defined $q{text}) {
    my ($rc, $out) = psql($db, 'INSERT INTO notes (text) VALUES (:\'text\')', text => $q{text});
    ($code, $body) = $rc == 0 ? (200, "added\n") : (500, $out);
  } elsif ($path eq '/notes') {
    my ($rc, $out) = psql($db, 'SELECT text FROM notes ORDER BY id');
    ($code, $body) = ($rc == 0 ? 200 : 500, $out);
  } elsif ($path eq '/whoami') {
    my ($rc, $out) = psql($db, "SELECT current_user || ' ' || current_database() || ' ' || current_setting('server_version_num') || ' ' || (SELECT count(*) FROM pg_extension WHERE extname = 'pgcrypto')");
    ($code, $body) = ($rc == 0 ? 200 : 500, $out);
  } elsif ($path eq '/probe' && ($q{db} // '') =~ /^[a-z0-9_]{1,63}$/) {
    my ($rc, $out) = psql($q{db}, 'SELECT 1');
    ($code, $body) = (200, $rc == 0 ? "connected\n" : "refused: $out");
  }
  print $c "HTTP/1.0 $code X\r\nContent-Type: text/plain\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
  close $c;
}
