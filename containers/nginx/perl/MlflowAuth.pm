package MlflowAuth;

# Decides basic authentication for the MLflow proxy, in nginx's embedded Perl, so that nginx's own
# auth_basic never computes a hash: every SHA-512-crypt (about 1.7 ms of CPU for a short password,
# 6 ms at the 256-byte limit) happens here, at most once per request, and only for requests the
# attempt limits of nginx.conf.template admitted.
#
# Two entry points, both called through perl_set variables (see nginx.conf.template):
#
#   state($r)      cheap, never hashes; evaluated first, by limit_req (preaccess phase):
#                    "pass"              this worker verified this exact Authorization header within
#                                        the last $TTL_SECONDS: no check, no attempt limit;
#                    "none"              no Authorization header: the plain 401 challenge a browser
#                                        needs before it asks for credentials; not limited;
#                    "recheck"           verified in this worker before, but longer ago than the TTL:
#                                        checked again, exempt from the attempt limits (only someone
#                                        who knows the password can send it);
#                    "attempt:<client>"  anything else: an attempt counted by the per-client and the
#                                        overall limits, keyed on client_key() below.
#   verdict($r, $file)  the decision, evaluated by auth_basic (access phase) for every state but
#                  "pass" and "none": "off" (auth_basic lets the request through) for a header whose
#                  password crypt(3) verified against the credentials file, the realm otherwise.
#                  The realm makes auth_basic answer 401 with the WWW-Authenticate challenge without
#                  hashing: its user file in nginx.conf.template is empty, so it finds no user.
#
# Limits checked before any hash: an Authorization header over $MAX_HEADER_BYTES, a password over
# $MAX_PASSWORD_BYTES (entrypoint.sh refuses to start with a longer one) or an empty one, a malformed
# header and an unknown user are refused without hashing. So a wrong password costs at most one
# crypt(3), a valid header one crypt(3) per worker and TTL.
#
# Nothing is written anywhere: the credentials file keeps the only stored form of the password, and
# the cache below lives in the worker's memory.
#
# Users mode (MLFLOW_AUTH=users, entrypoint.sh): MLflow's authentication app checks passwords. verdict()
# then only refuses what can never be valid (over-long, malformed, empty or over-long password, over-long
# user name) and lets the rest through with its Authorization header; learn($r), evaluated once MLflow
# answered, remembers a header MLflow accepted (a 2xx answer on a route MLflow authenticates, see
# authenticated_path: a made-up header on /health is never learned) and forgets one it refused (401), so the
# attempt limits count exactly the headers MLflow has not accepted, as in shared mode.
#
# IAM principals (both modes): iam($r) admits a request that API Gateway's IAM-authorized route sent: that
# route overwrites X-MLflow-IAM-Principal with the caller's ARN (SigV4-verified by API Gateway) and sets
# X-MLflow-Gateway-Token to the per-deployment gateway token, which the password route removes. iam()
# compares the token in constant time with the one in "$run_dir/gateway-token" and maps the ARN with
# "$run_dir/iam-principals" (written by entrypoint.sh): "user:<name>" when both hold, "deny" when a
# token header is present but wrong or the ARN is not mapped (counted as an attempt, answered 401),
# "" when there is no token header (the principal header is then ignored). nginx.conf.template never
# passes either header on and sets X-MLflow-Auth-User (MLflow's trusted header) only from "user:<name>".

use strict;
use warnings;

use MIME::Base64 ();

our $REALM = 'MLflow';
our $TTL_SECONDS = 300;
our $MAX_ENTRIES = 1024;
# Keep in step with entrypoint.sh, which refuses longer credentials at start. A 128-byte user and a
# 256-byte password make a 522-byte header, well under the header limit.
our $MAX_HEADER_BYTES = 1024;
our $MAX_PASSWORD_BYTES = 256;
our $MAX_USERNAME_BYTES = 128;

my %verified;      # Authorization header value => time until which it is trusted without a check
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

# True for addresses of the private network the proxy runs in (the load balancer's nodes) and for
# loopback: a peer there is a proxy hop whose forwarding headers are believed.
sub is_private_address {
    my ($address) = @_;
    return 1 if $address =~ /\A(?:10|127)\./;
    return 1 if $address =~ /\A192\.168\./;
    return 1 if $address =~ /\A172\.(?:1[6-9]|2[0-9]|3[01])\./;
    return 1 if $address =~ /\A(?:::1|f[cd][0-9a-f]{0,2}:)/i;
    return 1 if $address =~ /\Aunix:/;
    return 0;
}

sub plausible_address {
    my ($value) = @_;
    return defined $value && $value =~ /\A(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)\z/ && length($value) <= 45;
}

# The client an attempt is counted against. The TCP peer when it is a public address (nobody
# between it and nginx). Behind the load balancer (a private peer): the client API Gateway served,
# from the last element of the Forwarded header, which API Gateway (HTTP API) appends after any
# Forwarded value the client sent; else the address the load balancer appended last to
# X-Forwarded-For (its own peer: the VPC link for API Gateway traffic, the caller for clients inside
# the VPC); else the peer. A client able to reach nginx from the private network without a proxy
# could choose its key: the overall limit, keyed on nothing a client sends, still bounds the work.
sub client_key {
    my ($r) = @_;
    my $peer = $r->remote_addr // '';
    return $peer unless is_private_address($peer);
    my $forwarded = $r->header_in('Forwarded');
    if (defined $forwarded && length($forwarded) <= 4096 && $forwarded =~ /.*\bfor=("?)\[?([0-9A-Fa-f:.]+?)\]?(?::\d+)?\1(?:\s*[;,]|\s*\z)/is) {
        my $client = $2;
        return "fwd $client" if plausible_address($client);
    }
    my $xff = $r->header_in('X-Forwarded-For');
    if (defined $xff && length($xff) <= 4096 && $xff =~ /([^,\s]+)\s*\z/) {
        my $client = $1;
        return "xff $client" if plausible_address($client);
    }
    return $peer;
}

our $MAX_PRINCIPAL_BYTES = 2048;
our $MAX_TOKEN_BYTES = 256;

my $token;             # the gateway token, undef when the IAM route is off
my %principal_user;    # exact ARN (IAM user) => MLflow user
my %role_user;         # arn:PART:sts::ACCOUNT:assumed-role/NAME => MLflow user
my $iam_loaded;

sub load_iam {
    my ($dir) = @_;
    return if $iam_loaded;
    $iam_loaded = 1;
    if (open(my $fh, '<', "$dir/gateway-token")) {
        my $line = <$fh>;
        close $fh;
        chomp $line if defined $line;
        $token = $line if defined $line && length $line;
    }
    if (open(my $fh, '<', "$dir/iam-principals")) {
        while (my $line = <$fh>) {
            chomp $line;
            my ($arn, $user) = split / /, $line, 2;
            next unless defined $user && length $user;
            if ($arn =~ m{\A(arn:[a-z-]+):iam::(\d{12}):role/(?:[^/]+/)*([^/]+)\z}) {
                $role_user{"$1:sts::$2:assumed-role/$3"} = $user;
            }
            $principal_user{$arn} = $user;
        }
        close $fh;
    }
}

sub same_string {
    my ($a, $b) = @_;
    return 0 unless length($a) == length($b);
    my $difference = 0;
    $difference |= ord(substr($a, $_, 1)) ^ ord(substr($b, $_, 1)) for 0 .. length($a) - 1;
    return $difference == 0;
}

sub user_of_principal {
    my ($arn) = @_;
    return $principal_user{$arn} if exists $principal_user{$arn};
    if ($arn =~ m{\A(arn:[a-z-]+:sts::\d{12}:assumed-role/[^/]+)/[^/]+\z}) {
        return $role_user{$1};
    }
    return undef;
}

sub iam {
    my ($r, $dir) = @_;
    my $sent = $r->header_in('X-MLflow-Gateway-Token');
    return '' unless defined $sent;
    load_iam($dir);
    return 'deny' unless defined $token && length($sent) <= $MAX_TOKEN_BYTES && same_string($sent, $token);
    my $arn = $r->header_in('X-MLflow-IAM-Principal');
    return 'deny' unless defined $arn && length($arn) <= $MAX_PRINCIPAL_BYTES;
    my $user = user_of_principal($arn);
    return defined $user ? "user:$user" : 'deny';
}

# Remembers $header as verified until $until. A full cache loses the entry that is due first (the one verified
# longest ago), never everything: only headers MLflow or crypt(3) accepted get in, so nobody without an account can
# push an established user out, and a team of more than $MAX_ENTRIES active headers loses its least recent ones.
sub remember {
    my ($header, $until) = @_;
    if (!exists $verified{$header} && scalar(keys %verified) >= $MAX_ENTRIES) {
        my ($oldest, $oldest_until);
        while (my ($key, $value) = each %verified) {
            ($oldest, $oldest_until) = ($key, $value) if !defined $oldest_until || $value < $oldest_until;
        }
        delete $verified{$oldest} if defined $oldest;
    }
    $verified{$header} = $until;
}

# Paths on which MLflow's authentication app answers 2xx only to credentials it verified: its REST and AJAX APIs, but
# not the public server-info route (nor /health, /static-files, /favicon.ico, the UI shell, which it leaves open).
sub authenticated_path {
    my ($uri) = @_;
    return 0 unless $uri =~ m{\A/+(?:api|ajax-api)/+\d+\.\d+/};
    return 0 if $uri =~ m{/server-info/*\z};
    return 1;
}

sub learn {
    my ($r) = @_;
    my $header = $r->header_in('Authorization');
    return '' unless defined $header;
    my $status = $r->variable('upstream_status') // '';
    return '' unless $status =~ /(\d{3})\s*\z/;
    my $code = $1;
    if ($code eq '401') {
        delete $verified{$header};
    } elsif ($code =~ /\A2/ && authenticated_path($r->uri) && (!defined $verified{$header} || $verified{$header} <= time)) {
        remember($header, time + $TTL_SECONDS);
    }
    return '';
}

# Requests refused before anything else (nginx.conf.template answers 400): "1" or "". MLflow's auth app authorizes
# upload-artifact on the query's run_id (else run_uuid) but its handler writes to run_uuid, so a request naming both
# writes into a run the caller may not edit (docs/reference/security.md). The MLflow clients and UI send run_uuid only. Every
# spelling of the parameter's name that Flask decodes to run_id is refused: "+" and %XX decoded, as urllib's parse_qsl
# does, separated by "&" only. containers/mlflow/mlflow_auth.py refuses the same on Flask's own parsing.
sub refused {
    my ($r) = @_;
    return '' unless $r->uri =~ m{/mlflow/upload-artifact/*\z};
    my $args = $r->args // '';
    for my $pair (split /&/, $args) {
        my ($name) = split /=/, $pair, 2;
        next unless defined $name;
        $name =~ tr/+/ /;
        $name =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge;
        return '1' if $name eq 'run_id';
    }
    return '';
}

sub state {
    my ($r, $iam) = @_;
    $iam //= '';
    return 'pass' if $iam =~ /\Auser:/;
    return 'attempt:' . client_key($r) if $iam eq 'deny';
    my $header = $r->header_in('Authorization');
    return 'none' unless defined $header;
    my $until = $verified{$header};
    return $until > time ? 'pass' : 'recheck' if defined $until;
    return 'attempt:' . client_key($r);
}

sub verdict {
    my ($r, $path, $mode, $iam) = @_;
    $mode //= 'shared';
    $iam //= '';
    return 'off' if $iam =~ /\Auser:/;
    return $REALM if $iam eq 'deny';
    my $header = $r->header_in('Authorization');
    return $REALM unless defined $header;
    my $now = time;
    my $until = $verified{$header};
    return 'off' if defined $until && $until > $now;

    # Refused without hashing: too long, malformed, empty or too long a password, unknown user.
    return $REALM if length($header) > $MAX_HEADER_BYTES;
    return $REALM unless $header =~ m{\ABasic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*\z}i;
    my ($user, $password) = split /:/, MIME::Base64::decode_base64($1), 2;
    return $REALM unless defined $password && length($password) > 0 && length($password) <= $MAX_PASSWORD_BYTES;
    # Users mode: MLflow checks the password (and learn() records its answer).
    return length($user) > 0 && length($user) <= $MAX_USERNAME_BYTES ? 'off' : $REALM if $mode eq 'users';
    load_credentials($path) or return $REALM;
    my $hash = $hash_of{$user};
    return $REALM unless defined $hash;

    # The one hash of this request.
    my $computed = crypt($password, $hash);
    return $REALM unless defined $computed && $computed eq $hash;

    remember($header, $now + $TTL_SECONDS);
    return 'off';
}

1;
