#!/usr/bin/env perl
# The Perl 5 module made from bindings/swig/memkind_fixed.i: a kind over a mapped
# region, blocks inside it, errors as exceptions, ownership, a shared heap. Prints
# "N passed, N failed" and exits non-zero on failure.
use strict;
use warnings;
use memkind_fixed;

my ($passed, $failed) = (0, 0);
sub check {
    my ($ok, $what) = @_;
    if ($ok) { $passed++ } else { $failed++; print "FAIL $what\n" }
}

my $size = 1 << 20;
my $region = memkind_fixed::memkind_region_map($size, $memkind_fixed::MEMKIND_REGION_POLICY_DEFAULT, 0, 0);
check(defined $region, "region mapped");

# The output parameter is the result; the proxy owns the kind.
my @made = memkind_fixed::memkind_create_fixed_flags($region, $size, $memkind_fixed::MEMKIND_REGION_ZEROED);
check(@made == 1 && ref($made[0]) eq 'memkind_fixed::memkind', "create returns the kind alone");
my $kind = $made[0];
check(memkind_fixed::memkind_get_capacity($kind) == $size, "capacity");

# Blocks lie in the region and hold what was written.
my @blocks;
for my $i (0 .. 99) {
    my $p = memkind_fixed::memkind_malloc($kind, 64);
    memkind_fixed::memmove($p, sprintf("block %04d", $i));
    push @blocks, $p;
}
my $inside = grep {
    my $owner = memkind_fixed::memkind_detect_kind($_);
    # A proxy is a hash tied to the pointer object; compare addresses.
    defined $owner && ${tied(%$owner)} == ${tied(%$kind)};
} @blocks;
check($inside == 100, "100 blocks in the kind ($inside)");
my $intact = grep { memkind_fixed::cdata($blocks[$_], 10) eq sprintf("block %04d", $_) } 0 .. 99;
check($intact == 100, "100 blocks read back ($intact)");
memkind_fixed::memkind_free($kind, $_) for @blocks;

# Exhaustion: MemoryError with the library's message.
my @big;
eval { push @big, memkind_fixed::memkind_malloc($kind, 65536) while 1 };
check($@ =~ /^MemoryError memkind_malloc: .* \(code 12\)/, "exhaustion: $@");
check(@big >= 8, scalar(@big) . " x 64 KiB fit");
memkind_fixed::memkind_free($kind, $_) for @big;

# Status codes: RuntimeError with code and sentence.
eval { memkind_fixed::memkind_create_fixed($region, $size) };
check($@ =~ /^RuntimeError memkind_create_fixed: .* \(code -101\)/, "overlap: $@");
check(memkind_fixed::memkind_error_message(-13) ne '', "error message");

my $stats = memkind_fixed::memkind_fixed_get_stats($kind);
check($stats->{capacity} == $size && $stats->{regions} == 1, "stats");
check($stats->{failed_allocs} >= 1, "failed allocation counted");

# memkind_destroy_kind takes the kind from its proxy: no second destroy.
memkind_fixed::memkind_destroy_kind($kind);
undef $kind;
eval { memkind_fixed::memkind_region_unmap($region, $size, 0) };
check($@ eq '', "unmap: $@");

# A proxy that goes away destroys its kind: the region is free for a new one.
my $region2 = memkind_fixed::memkind_region_map($size, 0, 0, 0);
{
    my $k = memkind_fixed::memkind_create_fixed($region2, $size);
}
my $again = eval { memkind_fixed::memkind_create_fixed($region2, $size) };
check(defined $again, "region reusable after the proxy went away: $@");
undef $again;
memkind_fixed::memkind_region_unmap($region2, $size, 0);

# A shared heap: two attachments, a block named by its offset, statistics, errors.
my $name = "/mkf-$$-perl";
my $shared = memkind_fixed::memkind_shared_create($name, $size, 0);
my $other = memkind_fixed::memkind_shared_attach($name);
my $p = memkind_fixed::memkind_malloc($shared, 100);
memkind_fixed::memmove($p, "shared by offset");
my $offset = memkind_fixed::memkind_shared_offset($shared, $p);
my $q = memkind_fixed::memkind_shared_ptr($other, $offset);
check($offset > 0 && memkind_fixed::cdata($q, 16) eq "shared by offset", "a block at offset $offset");
my $sstats = memkind_fixed::memkind_shared_get_stats($other);
check($sstats->{processes} == 2 && $sstats->{capacity} == $size, "shared stats");
memkind_fixed::memkind_free($other, $q);
check(defined eval { memkind_fixed::memkind_shared_reclaim($shared) }, "reclaim returns the bytes: $@");
eval { memkind_fixed::memkind_shared_create($name, $size, 0) };
check($@ =~ /^RuntimeError memkind_shared_create: .* \(code -109\)/, "exists: $@");
memkind_fixed::memkind_shared_detach($other);  # the proxy no longer owns it
undef $other;
undef $shared;
memkind_fixed::memkind_shared_unlink($name);
eval { memkind_fixed::memkind_shared_attach($name) };
check($@ =~ /^RuntimeError memkind_shared_attach: .* \(code -110\)/, "unlinked: $@");

print "$passed passed, $failed failed\n";
exit($failed ? 1 : 0);
