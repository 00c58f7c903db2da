<#
.SYNOPSIS
  Intune Win32 app detection script: installed when the binary answers, the policy in
  %ProgramData%\Leakguard passes `leakguard policy check` against the pinned key, and the
  browser policies are in place. Intune treats exit 0 with output as "installed".
#>
$exe = Join-Path $env:ProgramFiles "Leakguard\leakguard.exe"
$dir = Join-Path $env:ProgramData "Leakguard"
if (-not (Test-Path $exe)) { exit 1 }
& $exe policy check --public-key "$dir\policy.pub" "$dir\policy.json" | Out-Null
if ($LASTEXITCODE -ne 0) { exit 1 }
$chrome = Get-ItemProperty -Path "HKLM:\SOFTWARE\Policies\Google\Chrome" -ErrorAction SilentlyContinue
if (-not $chrome -or $chrome.QuicAllowed -ne 0) { exit 1 }
Write-Output "Leakguard installed"
exit 0
