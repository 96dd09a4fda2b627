/** A transcript seeded with every kind of personal data, in several forms, and look-alikes that must stay. */

export const TERMS = ['Ana García', 'Borja', 'Łukasz'];

/** Each value as written in SEEDED, with the kind it must be found as and its placeholder. */
export const SEEDED_VALUES: { text: string; kind: string; placeholder: string }[] = [
  { text: 'Ana García', kind: 'name', placeholder: '<NAME_1>' },
  { text: 'ana.garcia@Example.com', kind: 'email', placeholder: '<EMAIL_1>' },
  { text: 'ANA.GARCIA@example.COM', kind: 'email', placeholder: '<EMAIL_1>' },
  { text: 'b.ruiz+facturas@correo.example.es', kind: 'email', placeholder: '<EMAIL_2>' },
  { text: '612 345 678', kind: 'phone', placeholder: '<PHONE_1>' },
  { text: '+34 612345678', kind: 'phone', placeholder: '<PHONE_1>' },
  { text: '0034-612-345-678', kind: 'phone', placeholder: '<PHONE_1>' },
  { text: '91 123 45 67', kind: 'phone', placeholder: '<PHONE_2>' },
  { text: '699.11.22.33', kind: 'phone', placeholder: '<PHONE_3>' },
  { text: '+44 (0)20 7946 0958', kind: 'phone', placeholder: '<PHONE_4>' },
  { text: '+1-202-555-0143', kind: 'phone', placeholder: '<PHONE_5>' },
  { text: '4111 1111 1111 1111', kind: 'card', placeholder: '<CARD_1>' },
  { text: '4111-1111-1111-1111', kind: 'card', placeholder: '<CARD_1>' },
  { text: '378282246310005', kind: 'card', placeholder: '<CARD_2>' },
  { text: '5555555555554444', kind: 'card', placeholder: '<CARD_3>' },
  { text: 'ES91 2100 0418 4502 0005 1332', kind: 'iban', placeholder: '<IBAN_1>' },
  { text: 'es9121000418450200051332', kind: 'iban', placeholder: '<IBAN_1>' },
  { text: 'GB82WEST12345698765432', kind: 'iban', placeholder: '<IBAN_2>' },
  { text: 'DE89 3704 0044 0532 0130 00', kind: 'iban', placeholder: '<IBAN_3>' },
  { text: '078-05-1120', kind: 'ssn', placeholder: '<SSN_1>' },
  { text: '219-09-9999', kind: 'ssn', placeholder: '<SSN_2>' },
  { text: '12345678Z', kind: 'dni', placeholder: '<DNI_1>' },
  { text: '12.345.678-Z', kind: 'dni', placeholder: '<DNI_1>' },
  { text: 'X1234567L', kind: 'dni', placeholder: '<DNI_2>' },
  { text: 'y-1234567-x', kind: 'dni', placeholder: '<DNI_3>' },
  { text: '192.168.1.10', kind: 'ip', placeholder: '<IP_1>' },
  { text: '8.8.8.8', kind: 'ip', placeholder: '<IP_2>' },
  { text: '2001:DB8::1', kind: 'ip', placeholder: '<IP_3>' },
  { text: '2001:db8::1', kind: 'ip', placeholder: '<IP_3>' },
  { text: 'fe80::1ff:fe23:4567:890a', kind: 'ip', placeholder: '<IP_4>' },
  { text: 'Borja', kind: 'name', placeholder: '<NAME_2>' },
  { text: 'borja', kind: 'name', placeholder: '<NAME_2>' },
  { text: 'ŁUKASZ', kind: 'name', placeholder: '<NAME_3>' },
];

/** Text that looks like personal data but fails its checksum, its ranges or its shape. */
export const LOOK_ALIKES = [
  '4111 1111 1111 1112', // 16 digits, Luhn fails
  '1234567812345678', // Luhn fails
  '0000 0000 0000 0000', // Luhn passes, but no card is all zeros
  'ES91 2100 0418 4502 0005 1333', // IBAN, bad check
  'ES9121000418450200051', // IBAN, too short for Spain
  '12345678A', // DNI, wrong letter
  'X1234567A', // NIE, wrong letter
  '000-12-3456', // SSN area 000
  '666-12-3456', // SSN area 666
  '912-12-3456', // SSN area 9xx
  '123-00-4567', // SSN group 00
  '123-45-0000', // SSN serial 0000
  '1.2.3.4.5', // a version, not an address
  'v2.10.3.1-beta', // a version with letters around it
  '256.1.1.1', // octet over 255
  '2024-06-12', // ISO date
  '12/06/2024', // date
  '31.12.2024', // dotted date
  '10:30:00', // clock time
  'pedido nº 2024-00017', // order number
  'ref #A-10234-77', // order reference
  'factura 2024/000123', // invoice number
  '+15 %', // a percentage, not a phone
  '512 345 678', // 9 digits, but not a Spanish phone (starts with 5)
  'Borjas', // a longer word around a sensitive term
  'Anagarcía',
  'user@localhost', // no top-level domain
];

export const SEEDED = [
  `[00:00] Hola, soy Ana García, mi correo es ana.garcia@Example.com (o ANA.GARCIA@example.COM) y facturas a b.ruiz+facturas@correo.example.es.`,
  `[00:12] Llámame al 612 345 678, desde fuera +34 612345678 o 0034-612-345-678; la oficina es el 91 123 45 67 y el fax 699.11.22.33.`,
  `[00:31] En Londres: +44 (0)20 7946 0958; en Washington: +1-202-555-0143.`,
  `[00:45] La tarjeta es 4111 1111 1111 1111 (también escrita 4111-1111-1111-1111), la Amex 378282246310005 y la Mastercard 5555555555554444.`,
  `[01:02] Transferid a ES91 2100 0418 4502 0005 1332, o sea es9121000418450200051332; la cuenta inglesa GB82WEST12345698765432 y la alemana DE89 3704 0044 0532 0130 00.`,
  `[01:20] His SSN is 078-05-1120 and hers 219-09-9999.`,
  `[01:33] DNI 12345678Z (12.345.678-Z en el contrato), NIE X1234567L y el de su socio y-1234567-x.`,
  `[01:50] El servidor está en 192.168.1.10, el DNS en 8.8.8.8, y por IPv6 2001:DB8::1 o 2001:db8::1, enlace fe80::1ff:fe23:4567:890a.`,
  `[02:05] Borja dijo que borja no vendría; ŁUKASZ tampoco.`,
  `[02:20] Look-alikes: ${LOOK_ALIKES.join('; ')}.`,
];
