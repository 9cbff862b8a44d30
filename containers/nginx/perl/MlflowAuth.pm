package MlflowAuth;

# Remembers, per nginx worker and in memory only, the Authorization headers that passed a crypt(3)
# check against the credentials file, so that nginx's auth_basic does not pay a full SHA-512-crypt
# (about 1 ms of CPU) on every request of a client that sends the same valid header again.
#
# Used as the realm of auth_basic:  auth_basic $mlflow_auth_realm;
#   - "off" (auth_basic skips the request) only for a header whose password crypt(3) verified
#     against the credentials file within the last $TTL seconds;
#   - the realm otherwise, so nginx's own auth_basic checks the request as usual: 401 with a
#     WWW-Authenticate challenge, and its log line, for a missing or wrong password.
# Nothing is written anywhere: the credentials file keeps the only stored form of the password.

use strict;
use warnings;

use MIME::Base64 ();

my $TTL_SECONDS = 300;
my $MAX_ENTRIES = 1024;

my %verified;      # Authorization header value => time until which it is trusted
my %hash_of;       # user name => crypt(3) hash, as read from the credentials file
my $loaded_stamp;  # "mtime size inode" of the file %hash_of was read from

sub load_credentials {
    my ($path) = @_;
    my @st = stat($path) or return 0;
    my $stamp = "$st[9] $st[7] $st[1]";
    return 1 if defined $loaded_stamp && $loaded_stamp eq $stamp;
    open(my $fh, '<', $path) or return 0;
    my %read;
    while (my $line = <$fh>) {
        chomp $line;
        my ($user, $hash) = split /:/, $line, 2;
        $read{$user} = $hash if defined $hash && length $hash;
    }
    close $fh;
    %hash_of = %read;
    %verified = ();    # a changed file invalidates every remembered header
    $loaded_stamp = $stamp;
    return 1;
}

sub realm {
    my ($r, $path, $realm) = @_;
    my $header = $r->header_in('Authorization');
    return $realm unless defined $header;
    # The hot path: one hash lookup for a header seen and verified before.
    my $now = time;
    my $until = $verified{$header};
    return 'off' if defined $until && $until > $now;

    return $realm unless $header =~ m{\ABasic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*\z}i;
    my $encoded = $1;

    load_credentials($path) or return $realm;
    my ($user, $password) = split /:/, MIME::Base64::decode_base64($encoded), 2;
    return $realm unless defined $password;
    my $hash = $hash_of{$user};
    return $realm unless defined $hash;
    my $computed = crypt($password, $hash);
    return $realm unless defined $computed && $computed eq $hash;

    %verified = () if scalar(keys %verified) >= $MAX_ENTRIES;
    $verified{$header} = $now + $TTL_SECONDS;
    return 'off';
}

1;
